// Add a user, or edit one (admin; spec 11: /user/add, /user/edit/:id). Bindings
// (GitHub, WeChat, email) are shown read-only: the user manages them.
import { Button, Group, NumberInput, Paper, PasswordInput, Select, SimpleGrid, Stack, TextInput } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { api } from "../../api/client";
import type { User } from "../../api/types";
import { PageHeader } from "../../components/PageHeader";
import { useStatus } from "../../context/StatusContext";
import { notifyError, notifySuccess } from "../../lib/notify";
import { useFormState } from "../../lib/useFormState";
import { renderQuota } from "../../lib/quota";
import { validateUser, type UserFormErrors, type UserFormValues } from "./userForm";

const EMPTY: UserFormValues = { username: "", password: "", display_name: "", group: "default", quota: 0 };

export default function UserEdit() {
  const { t } = useTranslation("user");
  const { id } = useParams();
  const editing = id !== undefined;
  const navigate = useNavigate();
  const { quotaDisplay } = useStatus();
  const { values, setValues, errors, set, saving, submit: submitWith } = useFormState<UserFormValues, UserFormErrors>(
    EMPTY,
  );
  const [bindings, setBindings] = useState({ github_id: "", wechat_id: "", email: "" });
  const [groups, setGroups] = useState<string[]>([]);
  const [loading, setLoading] = useState(editing);

  useEffect(() => {
    if (!editing) return;
    const controller = new AbortController();
    setLoading(true);
    Promise.all([
      api.get<User>(`/api/user/${id}`, undefined, controller.signal),
      api.get<string[]>("/api/group/", undefined, controller.signal),
    ])
      .then(([user, groupList]) => {
        setValues({
          username: user.username,
          password: "",
          display_name: user.display_name,
          group: user.group,
          quota: user.quota,
        });
        setBindings({ github_id: user.github_id, wechat_id: user.wechat_id, email: user.email });
        setGroups(groupList ?? []);
      })
      .catch(notifyError)
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [editing, id]);

  const submit = submitWith(
    (current) => validateUser(current, !editing),
    async (current) => {
      const common = {
        username: current.username.trim(),
        password: current.password,
        display_name: current.display_name.trim(),
      };
      if (editing) {
        await api.put("/api/user/", { ...common, id: Number(id), group: current.group, quota: Number(current.quota) });
        notifySuccess(t("saved"));
      } else {
        await api.post("/api/user/", common);
        notifySuccess(t("created"));
      }
      navigate("/user");
    },
  );

  const groupOptions = Array.from(new Set([...groups, values.group].filter(Boolean)));
  const quota = typeof values.quota === "number" ? values.quota : 0;

  return (
    <>
      <PageHeader title={editing ? t("editTitle") : t("addTitle")} />
      <Paper withBorder p="md" maw={720}>
        <form onSubmit={submit} noValidate>
          <Stack gap="md">
            <TextInput
              label={t("fields.username")}
              required
              value={values.username}
              onChange={(e) => set("username", e.currentTarget.value)}
              error={errors.username && t(errors.username)}
              disabled={loading}
              autoComplete="off"
            />
            <PasswordInput
              label={t("fields.password")}
              required={!editing}
              description={editing ? t("hints.passwordKeep") : undefined}
              value={values.password}
              onChange={(e) => set("password", e.currentTarget.value)}
              error={errors.password && t(errors.password)}
              disabled={loading}
              autoComplete="new-password"
            />
            <TextInput
              label={t("fields.displayName")}
              value={values.display_name}
              onChange={(e) => set("display_name", e.currentTarget.value)}
              error={errors.display_name && t(errors.display_name)}
              disabled={loading}
            />
            {editing && (
              <>
                <Select
                  label={t("fields.group")}
                  data={groupOptions}
                  value={values.group}
                  onChange={(value) => set("group", value ?? "")}
                  allowDeselect={false}
                  searchable
                  error={errors.group && t(errors.group)}
                  disabled={loading}
                />
                <NumberInput
                  label={t("fields.quota")}
                  description={t("hints.quotaEquals", { amount: renderQuota(quota, quotaDisplay) })}
                  min={0}
                  allowDecimal={false}
                  allowNegative={false}
                  thousandSeparator=","
                  value={values.quota}
                  onChange={(value) => set("quota", value)}
                  error={errors.quota && t(errors.quota)}
                  disabled={loading}
                />
                <SimpleGrid cols={{ base: 1, sm: 3 }}>
                  <TextInput label={t("fields.github")} value={bindings.github_id} readOnly placeholder={t("hints.readonly")} />
                  <TextInput label={t("fields.wechat")} value={bindings.wechat_id} readOnly placeholder={t("hints.readonly")} />
                  <TextInput label={t("fields.email")} value={bindings.email} readOnly placeholder={t("hints.readonly")} />
                </SimpleGrid>
              </>
            )}
            <Group justify="flex-end">
              <Button component={Link} to="/user" variant="default">
                {t("common:actions.cancel")}
              </Button>
              <Button type="submit" loading={saving} disabled={loading}>
                {editing ? t("common:actions.save") : t("common:actions.create")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </>
  );
}
