// Create a batch of redemption codes, or rename / re-price one (spec 11: /redemption/add,
// /redemption/edit/:id). A created batch is shown in a dialog for copying or download.
import { Button, Group, NumberInput, Paper, Stack, TextInput } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { useStatus } from "../../context/StatusContext";
import { notifyError, notifySuccess } from "../../lib/notify";
import { useFormState } from "../../lib/useFormState";
import { renderQuota } from "../../lib/quota";
import { CreatedKeys } from "./CreatedKeys";
import {
  COUNT_MAX,
  DEFAULT_QUOTA,
  NAME_MAX,
  validateRedemption,
  type RedemptionFormErrors,
  type RedemptionFormValues,
} from "./redemptionForm";
import type { Redemption } from "./types";

export default function RedemptionEdit() {
  const { t } = useTranslation("redemption");
  const { id } = useParams();
  const editing = id !== undefined;
  const navigate = useNavigate();
  const { quotaDisplay } = useStatus();
  const { values, setValues, errors, set, saving, submit: submitWith } = useFormState<
    RedemptionFormValues,
    RedemptionFormErrors
  >({ name: "", quota: DEFAULT_QUOTA, count: 1 });
  const [loading, setLoading] = useState(editing);
  const [created, setCreated] = useState<string[] | null>(null);

  useEffect(() => {
    if (!editing) return;
    const controller = new AbortController();
    setLoading(true);
    api
      .get<Redemption>(`/api/redemption/${id}`, undefined, controller.signal)
      .then((row) => setValues({ name: row.name, quota: row.quota, count: 1 }))
      .catch(notifyError)
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [editing, id]);

  const submit = submitWith(
    (current) => validateRedemption(current, !editing),
    async (current) => {
      const body = { name: current.name.trim(), quota: Number(current.quota) };
      if (editing) {
        await api.put<Redemption>("/api/redemption/", { ...body, id: Number(id) });
        notifySuccess(t("saved"));
        navigate("/redemption");
      } else {
        const keys = await api.post<string[]>("/api/redemption/", { ...body, count: Number(current.count) });
        notifySuccess(t("created", { count: keys.length }));
        setCreated(keys);
      }
    },
  );

  const quota = typeof values.quota === "number" ? values.quota : 0;

  return (
    <>
      <PageHeader title={editing ? t("editTitle") : t("addTitle")} />
      <Paper withBorder p="md" maw={640}>
        <form onSubmit={submit} noValidate>
          <Stack gap="md">
            <TextInput
              label={t("fields.name")}
              required
              maxLength={NAME_MAX}
              value={values.name}
              onChange={(e) => set("name", e.currentTarget.value)}
              error={errors.name && t(errors.name)}
              disabled={loading}
            />
            <NumberInput
              label={t("fields.quota")}
              description={t("hints.quotaEquals", { amount: renderQuota(quota, quotaDisplay) })}
              required
              min={1}
              allowDecimal={false}
              allowNegative={false}
              thousandSeparator=","
              value={values.quota}
              onChange={(value) => set("quota", value)}
              error={errors.quota && t(errors.quota)}
              disabled={loading}
            />
            {!editing && (
              <NumberInput
                label={t("fields.count")}
                description={t("hints.count", { max: COUNT_MAX })}
                required
                min={1}
                max={COUNT_MAX}
                allowDecimal={false}
                allowNegative={false}
                value={values.count}
                onChange={(value) => set("count", value)}
                error={errors.count && t(errors.count)}
              />
            )}
            <Group justify="flex-end">
              <Button component={Link} to="/redemption" variant="default">
                {t("common:actions.cancel")}
              </Button>
              <Button type="submit" loading={saving} disabled={loading}>
                {editing ? t("common:actions.save") : t("common:actions.create")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      <CreatedKeys name={values.name.trim()} keys={created} onClose={() => navigate("/redemption")} />
    </>
  );
}
