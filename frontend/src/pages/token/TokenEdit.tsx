// Create or edit one of the caller's tokens (spec 11: /token/add, /token/edit/:id).
import {
  Button,
  Group,
  MultiSelect,
  NumberInput,
  Paper,
  Stack,
  Switch,
  Text,
  TextInput,
} from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { useStatus } from "../../context/StatusContext";
import { notifyError, notifySuccess } from "../../lib/notify";
import { useFormState } from "../../lib/useFormState";
import { renderQuota } from "../../lib/quota";
import {
  EXPIRY_PRESETS,
  emptyForm,
  fromToken,
  presetExpiry,
  toBody,
  validateToken,
  type TokenFormErrors,
  type TokenFormValues,
} from "./tokenForm";
import type { Token } from "./types";

export default function TokenEdit() {
  const { t } = useTranslation("token");
  const { id } = useParams();
  const editing = id !== undefined;
  const navigate = useNavigate();
  const { quotaDisplay } = useStatus();
  const { values, setValues, errors, set, update, saving, submit: submitWith } = useFormState<
    TokenFormValues,
    TokenFormErrors
  >(emptyForm);
  const [models, setModels] = useState<string[]>([]);
  const [loading, setLoading] = useState(editing);

  useEffect(() => {
    const controller = new AbortController();
    api
      .get<string[]>("/api/user/available_models", undefined, controller.signal)
      .then((list) => setModels(list ?? []))
      .catch(notifyError);
    return () => controller.abort();
  }, []);

  useEffect(() => {
    if (!editing) return;
    const controller = new AbortController();
    setLoading(true);
    api
      .get<Token>(`/api/token/${id}`, undefined, controller.signal)
      .then((token) => setValues(fromToken(token)))
      .catch(notifyError)
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [editing, id]);

  const setExpiry = (neverExpires: boolean, expiresAt: string) => update({ neverExpires, expiresAt });

  const submit = submitWith(
    (current) => validateToken(current),
    async (current) => {
      if (editing) await api.put<Token>("/api/token/", { ...toBody(current), id: Number(id) });
      else await api.post<Token>("/api/token/", toBody(current));
      notifySuccess(editing ? t("saved") : t("created"));
      navigate("/token");
    },
  );

  // Keep models the token already allows visible even if the group no longer offers them.
  const modelOptions = Array.from(new Set([...models, ...values.models]));
  const quotaNumber = typeof values.remainQuota === "number" ? values.remainQuota : 0;

  return (
    <>
      <PageHeader title={editing ? t("editTitle") : t("addTitle")} />
      <Paper withBorder p="md" maw={720}>
        <form onSubmit={submit} noValidate>
          <Stack gap="md">
            <TextInput
              label={t("fields.name")}
              required
              value={values.name}
              onChange={(e) => set("name", e.currentTarget.value)}
              error={errors.name && t(errors.name)}
              disabled={loading}
            />
            <MultiSelect
              label={t("fields.models")}
              description={t("hints.models")}
              data={modelOptions}
              value={values.models}
              onChange={(value) => set("models", value)}
              searchable
              clearable
              hidePickedOptions
              nothingFoundMessage={t("hints.noModels")}
              disabled={loading}
            />
            <TextInput
              label={t("fields.subnet")}
              description={t("hints.subnet")}
              placeholder="192.168.0.0/24, 10.0.0.0/8"
              value={values.subnet}
              onChange={(e) => set("subnet", e.currentTarget.value)}
              error={errors.subnet && t(errors.subnet)}
              disabled={loading}
            />
            <Stack gap={6}>
              <TextInput
                type="datetime-local"
                label={t("fields.expiresAt")}
                description={values.neverExpires ? t("hints.neverExpires") : undefined}
                value={values.neverExpires ? "" : values.expiresAt}
                onChange={(e) => setExpiry(false, e.currentTarget.value)}
                error={errors.expiresAt && t(errors.expiresAt)}
                disabled={loading}
              />
              <Group gap="xs">
                <Button
                  size="xs"
                  variant={values.neverExpires ? "filled" : "default"}
                  onClick={() => setExpiry(true, "")}
                >
                  {t("expiry.never")}
                </Button>
                {EXPIRY_PRESETS.map((preset) => (
                  <Button
                    key={preset}
                    size="xs"
                    variant="default"
                    onClick={() => setExpiry(false, presetExpiry(preset))}
                  >
                    {t(`expiry.${preset}`)}
                  </Button>
                ))}
              </Group>
            </Stack>
            <Switch
              label={t("fields.unlimited")}
              checked={values.unlimited}
              onChange={(e) => set("unlimited", e.currentTarget.checked)}
              disabled={loading}
            />
            <NumberInput
              label={t("fields.remainQuota")}
              description={
                values.unlimited ? t("hints.unlimited") : t("hints.quotaEquals", { amount: renderQuota(quotaNumber, quotaDisplay) })
              }
              value={values.remainQuota}
              onChange={(value) => set("remainQuota", value)}
              min={0}
              allowDecimal={false}
              allowNegative={false}
              thousandSeparator=","
              error={errors.remainQuota && t(errors.remainQuota)}
              disabled={loading || values.unlimited}
            />
            {!editing && (
              <Text size="xs" c="dimmed">
                {t("hints.quotaNote")}
              </Text>
            )}
            <Group justify="flex-end">
              <Button component={Link} to="/token" variant="default">
                {t("common:actions.cancel")}
              </Button>
              <Button type="submit" loading={saving} disabled={loading}>
                {t("common:actions.save")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </>
  );
}
