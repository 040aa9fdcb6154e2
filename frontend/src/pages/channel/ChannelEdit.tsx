// /channel/add, /channel/edit/:id and /channel/add?copy=:id (spec 11): the channel editor.
import {
  Alert,
  Button,
  Group,
  Loader,
  Paper,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  Textarea,
  TextInput,
} from "@mantine/core";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate, useParams, useSearchParams } from "react-router";

import { api } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { notifyError, notifySuccess } from "../../lib/notify";
import { type Channel, type ChannelForm, channelBody, checkModelMapping, emptyForm, type FieldError, formFromChannel, validateForm } from "./form";
import { CHANNEL_TYPES, channelType, type ConfigField, typeLabel } from "./types";

interface CatalogueEntry {
  id: string;
}

/** De-duplicated, order kept. */
function unique(items: string[]): string[] {
  return [...new Set(items)];
}

export default function ChannelEdit() {
  const { t, i18n } = useTranslation("channel");
  const navigate = useNavigate();
  const { id } = useParams();
  const [search] = useSearchParams();
  const editId = id ? Number(id) : undefined;
  const copyId = search.get("copy");
  const sourceId = editId ?? (copyId ? Number(copyId) : undefined);

  const [form, setForm] = useState<ChannelForm>(emptyForm);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [loading, setLoading] = useState(sourceId !== undefined);
  const [saving, setSaving] = useState(false);
  const [groupOptions, setGroupOptions] = useState<string[]>([]);
  const [defaultModels, setDefaultModels] = useState<Record<string, string[] | null>>({});
  const [allModels, setAllModels] = useState<string[]>([]);
  const [customModels, setCustomModels] = useState("");

  const type = channelType(form.type);

  useEffect(() => {
    const controller = new AbortController();
    api.get<string[]>("/api/group/", undefined, controller.signal).then(setGroupOptions, notifyError);
    api.get<Record<string, string[] | null>>("/api/models", undefined, controller.signal).then(setDefaultModels, notifyError);
    // Not enveloped: {"object": "list", "data": [...]}
    fetch("/api/channel/models", { credentials: "same-origin", signal: controller.signal })
      .then((response) => response.json() as Promise<{ data?: CatalogueEntry[] }>)
      .then((body) => setAllModels(unique((body.data ?? []).map((entry) => entry.id))))
      .catch(notifyError);
    return () => controller.abort();
  }, []);

  useEffect(() => {
    if (sourceId === undefined) return;
    const controller = new AbortController();
    setLoading(true);
    api
      .get<Channel>(`/api/channel/${sourceId}`, undefined, controller.signal)
      .then((channel) => {
        const loaded = formFromChannel(channel);
        if (editId === undefined) loaded.name = t("edit.copyName", { name: channel.name });
        setForm(loaded);
        setLoading(false);
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) {
          notifyError(error);
          setLoading(false);
        }
      });
    return () => controller.abort();
    // Not on `t`: switching the language must not reload the form over the user's edits.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sourceId, editId]);

  const set = <K extends keyof ChannelForm>(field: K, value: ChannelForm[K]) => {
    setForm((current) => ({ ...current, [field]: value }));
    setErrors((current) => current.filter((error) => error.field !== field));
  };
  const setConfig = (field: ConfigField, value: string) => {
    setForm((current) => ({ ...current, config: { ...current.config, [field]: value } }));
    setErrors((current) => current.filter((error) => error.field !== `config.${field}`));
  };
  const errorOf = (field: string): string | undefined => {
    const error = errors.find((item) => item.field === field);
    return error ? t(error.message, error.values) : undefined;
  };

  const typeOptions = useMemo(
    () =>
      CHANNEL_TYPES.filter((item) => !item.deprecated || item.id === form.type).map((item) => ({
        value: String(item.id),
        label: `${typeLabel(item, i18n.language)} (${item.id})`,
      })),
    [form.type, i18n.language],
  );
  const modelOptions = useMemo(() => unique([...form.models, ...allModels]), [form.models, allModels]);
  const groupData = useMemo(() => unique([...groupOptions, ...form.groups]), [groupOptions, form.groups]);

  const fillDefault = () => set("models", unique([...form.models, ...(defaultModels[String(form.type)] ?? [])]));
  const fillAll = () => set("models", unique([...form.models, ...allModels]));
  const addCustom = () => {
    const names = customModels.split(",").map((name) => name.trim()).filter(Boolean);
    if (names.length === 0) return;
    set("models", unique([...form.models, ...names]));
    setCustomModels("");
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const problems = validateForm(form, editId !== undefined);
    setErrors(problems);
    if (problems.length > 0) {
      notifyError(new Error(t(problems[0].message, problems[0].values)));
      return;
    }
    setSaving(true);
    try {
      if (editId !== undefined) {
        await api.put("/api/channel/", channelBody(form, editId));
        notifySuccess(t("edit.updated"));
      } else {
        const body = channelBody(form);
        await api.post("/api/channel/", body);
        const count = String(body.key).split("\n").length;
        notifySuccess(t("edit.created", { count }));
      }
      navigate("/channel");
    } catch (error) {
      notifyError(error);
    } finally {
      setSaving(false);
    }
  };

  const title = editId !== undefined ? t("edit.titleEdit") : t("edit.titleAdd");
  if (loading) {
    return (
      <Stack>
        <PageHeader title={title} />
        <Loader aria-label={t("common:loading")} />
      </Stack>
    );
  }

  const keyFormat = type.keyFormat ? t("edit.keyFormat", { format: type.keyFormat }) : undefined;
  return (
    <Stack>
      <PageHeader title={title} />
      <Paper withBorder p={{ base: "sm", sm: "lg" }} component="form" onSubmit={submit} noValidate>
        <Stack gap="md">
          <Select
            label={t("fields.type")}
            data={typeOptions}
            value={String(form.type)}
            onChange={(value) => value && set("type", Number(value))}
            searchable
            allowDeselect={false}
            nothingFoundMessage={t("edit.noType")}
          />
          {type.id === 8 ? <Alert color="yellow">{t("edit.customDeprecated")}</Alert> : null}
          <TextInput
            label={t("fields.name")}
            required
            value={form.name}
            onChange={(event) => set("name", event.currentTarget.value)}
            error={errorOf("name")}
          />
          {type.baseUrl !== "none" ? (
            <TextInput
              label={type.id === 3 ? t("fields.azureEndpoint") : type.baseUrl === "required" ? t("fields.baseUrl") : t("fields.proxyUrl")}
              description={type.baseUrl === "optional" ? t("edit.proxyHint", { url: type.defaultBaseUrl || "-" }) : undefined}
              placeholder={type.id === 3 ? "https://docs-test-001.openai.azure.com" : type.defaultBaseUrl || "https://"}
              required={type.baseUrl === "required"}
              value={form.baseUrl}
              onChange={(event) => set("baseUrl", event.currentTarget.value)}
              error={errorOf("baseUrl")}
            />
          ) : null}
          {type.config.map((input) => {
            const props = {
              label: t(`config.${input.field}.${type.id}`, { defaultValue: t(`config.${input.field}.label`) }),
              description: t(`config.${input.field}.hint`, { defaultValue: "" }) || undefined,
              placeholder: input.placeholder,
              required: input.required,
              value: form.config[input.field] ?? "",
              error: errorOf(`config.${input.field}`),
            };
            return input.multiline ? (
              <Textarea key={input.field} {...props} autosize minRows={3} maxRows={10} onChange={(event) => setConfig(input.field, event.currentTarget.value)} />
            ) : (
              <TextInput key={input.field} {...props} onChange={(event) => setConfig(input.field, event.currentTarget.value)} />
            );
          })}
          <TagsInput
            label={t("fields.groups")}
            description={t("edit.groupsHint")}
            data={groupData}
            value={form.groups}
            onChange={(value) => set("groups", unique(value))}
            error={errorOf("groups")}
            clearable
          />
          <TagsInput
            label={t("fields.models")}
            description={t("edit.modelsHint")}
            data={modelOptions}
            value={form.models}
            onChange={(value) => set("models", unique(value))}
            error={errorOf("models")}
            limit={50}
            maxDropdownHeight={260}
          />
          <Group gap="xs">
            <Button variant="light" size="xs" onClick={fillDefault}>
              {t("edit.fillDefault")}
            </Button>
            <Button variant="light" size="xs" onClick={fillAll}>
              {t("edit.fillAll")}
            </Button>
            <Button variant="light" color="red" size="xs" onClick={() => set("models", [])}>
              {t("edit.clearModels")}
            </Button>
          </Group>
          <Group gap="xs" align="flex-end">
            <TextInput
              label={t("fields.customModels")}
              placeholder="my-model-1, my-model-2"
              value={customModels}
              onChange={(event) => setCustomModels(event.currentTarget.value)}
              onKeyDown={(event) => {
                if (event.key === "Enter") {
                  event.preventDefault();
                  addCustom();
                }
              }}
              style={{ flex: 1 }}
            />
            <Button variant="default" onClick={addCustom}>
              {t("edit.addCustom")}
            </Button>
          </Group>
          <Textarea
            label={t("fields.modelMapping")}
            description={t("edit.mappingHint")}
            placeholder={'{\n  "gpt-3.5-turbo-0301": "gpt-3.5-turbo"\n}'}
            autosize
            minRows={3}
            maxRows={12}
            styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
            value={form.modelMapping}
            onChange={(event) => set("modelMapping", event.currentTarget.value)}
            onBlur={() => {
              const problem = checkModelMapping(form.modelMapping);
              setErrors((current) => [...current.filter((error) => error.field !== "modelMapping"), ...(problem ? [problem] : [])]);
            }}
            error={errorOf("modelMapping")}
          />
          <Textarea
            label={t("fields.systemPrompt")}
            description={t("edit.systemPromptHint")}
            autosize
            minRows={2}
            maxRows={8}
            value={form.systemPrompt}
            onChange={(event) => set("systemPrompt", event.currentTarget.value)}
          />
          {type.keyFromConfig ? (
            <Text size="sm" c="dimmed">
              {t("edit.keyFromConfig")}
            </Text>
          ) : (
            <>
              {editId === undefined ? (
                <Switch
                  label={t("fields.batch")}
                  checked={form.batch}
                  onChange={(event) => set("batch", event.currentTarget.checked)}
                />
              ) : null}
              {form.batch ? (
                <Textarea
                  label={t("fields.keys")}
                  description={[t("edit.batchHint"), keyFormat].filter(Boolean).join(" ")}
                  required
                  autosize
                  minRows={4}
                  maxRows={16}
                  value={form.key}
                  onChange={(event) => set("key", event.currentTarget.value)}
                  error={errorOf("key")}
                />
              ) : (
                <TextInput
                  label={t("fields.key")}
                  description={[editId !== undefined ? t("edit.keepKey") : "", keyFormat].filter(Boolean).join(" ") || undefined}
                  required={editId === undefined}
                  autoComplete="off"
                  value={form.key}
                  onChange={(event) => set("key", event.currentTarget.value)}
                  error={errorOf("key")}
                />
              )}
            </>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => navigate("/channel")}>
              {t("common:actions.cancel")}
            </Button>
            <Button type="submit" loading={saving}>
              {t("common:actions.submit")}
            </Button>
          </Group>
        </Stack>
      </Paper>
    </Stack>
  );
}
