// The channel editor's form state, its checks and the request body it becomes. Kept
// apart from the component so the rules (what the server would refuse, what it needs
// for each type) are tested without a browser.
import { AZURE_DEFAULT_API_VERSION, channelType, type ConfigField, DEFAULT_TYPE } from "./types";

/** A channel as GET /api/channel/:id returns it (key always blank). */
export interface Channel {
  id: number;
  type: number;
  key: string;
  status: number;
  name: string;
  weight: number | null;
  created_time: number;
  test_time: number;
  response_time: number;
  base_url: string | null;
  other: string | null;
  balance: number;
  balance_updated_time: number;
  models: string;
  group: string;
  used_quota: number;
  model_mapping: string | null;
  priority: number | null;
  config: string;
  system_prompt: string | null;
}

export interface ChannelForm {
  type: number;
  name: string;
  groups: string[];
  baseUrl: string;
  models: string[];
  modelMapping: string;
  systemPrompt: string;
  key: string;
  /** One key per line, one channel each (create only). */
  batch: boolean;
  config: Partial<Record<ConfigField, string>>;
}

export function emptyForm(): ChannelForm {
  return {
    type: DEFAULT_TYPE,
    name: "",
    groups: ["default"],
    baseUrl: "",
    models: [],
    modelMapping: "",
    systemPrompt: "",
    key: "",
    batch: false,
    config: {},
  };
}

/** "a, b,,c" -> ["a", "b", "c"] */
export function splitList(text: string | null | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function parseConfig(text: string): Partial<Record<ConfigField, string>> {
  try {
    const data: unknown = JSON.parse(text || "{}");
    if (data && typeof data === "object" && !Array.isArray(data)) {
      const config: Partial<Record<ConfigField, string>> = {};
      for (const [name, value] of Object.entries(data)) {
        if (typeof value === "string") config[name as ConfigField] = value;
      }
      return config;
    }
  } catch {
    // A broken stored config is shown as empty fields; saving writes a valid one.
  }
  return {};
}

/** The form for a stored channel (the key stays empty: the server never returns it). */
export function formFromChannel(channel: Channel): ChannelForm {
  const config = parseConfig(channel.config);
  // Old channels keep the api version / library id / plugin in `other` (spec 2.3).
  const other = channel.other ?? "";
  if (other) {
    if ([3, 18, 24].includes(channel.type)) config.api_version ||= other;
    if (channel.type === 21) config.library_id ||= other;
    if (channel.type === 17) config.plugin ||= other;
  }
  let mapping = channel.model_mapping ?? "";
  if (mapping) {
    try {
      mapping = JSON.stringify(JSON.parse(mapping), null, 2);
    } catch {
      // keep the stored text so the user sees what is wrong
    }
  }
  return {
    type: channel.type,
    name: channel.name,
    groups: splitList(channel.group),
    baseUrl: channel.base_url ?? "",
    models: splitList(channel.models),
    modelMapping: mapping,
    systemPrompt: channel.system_prompt ?? "",
    key: "",
    batch: false,
    config,
  };
}

/** An error: i18n key (namespace "channel") and its values. */
export interface FieldError {
  field: string;
  message: string;
  values?: Record<string, string>;
}

/** "" or a JSON object whose values are all strings; else the error's i18n key. */
export function checkModelMapping(text: string): FieldError | null {
  if (text.trim() === "") return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { field: "modelMapping", message: "errors.mappingJson", values: { detail: error instanceof Error ? error.message : "" } };
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    return { field: "modelMapping", message: "errors.mappingObject" };
  }
  for (const [name, target] of Object.entries(data)) {
    if (typeof target !== "string") {
      return { field: "modelMapping", message: "errors.mappingValue", values: { model: name } };
    }
  }
  return null;
}

/** The keys the form holds: every non-empty line in batch mode, else the whole text. */
export function formKeys(form: ChannelForm): string[] {
  const type = channelType(form.type);
  if (type.keyFromConfig) {
    const parts = type.keyFromConfig.map((field) => (form.config[field] ?? "").trim());
    return parts.every((part) => part !== "") ? [parts.join("|")] : [];
  }
  if (form.batch) {
    return form.key
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "");
  }
  const key = form.key.trim();
  return key ? [key] : [];
}

/** Everything wrong with the form, first problem first. `editing`: the key may stay empty. */
export function validateForm(form: ChannelForm, editing: boolean): FieldError[] {
  const errors: FieldError[] = [];
  const type = channelType(form.type);
  if (form.name.trim() === "") errors.push({ field: "name", message: "errors.nameRequired" });
  if (type.baseUrl === "required" && form.baseUrl.trim() === "") {
    errors.push({ field: "baseUrl", message: "errors.baseUrlRequired" });
  }
  for (const input of type.config) {
    if (input.required && !(form.config[input.field] ?? "").trim()) {
      errors.push({ field: `config.${input.field}`, message: "errors.configRequired", values: { field: input.field } });
    }
  }
  if (form.type === 42 && (form.config.vertex_ai_adc ?? "").trim()) {
    try {
      JSON.parse(form.config.vertex_ai_adc ?? "");
    } catch {
      errors.push({ field: "config.vertex_ai_adc", message: "errors.adcJson" });
    }
  }
  const keys = formKeys(form);
  if (!type.keyFromConfig) {
    if (!editing && keys.length === 0) errors.push({ field: "key", message: "errors.keyRequired" });
    if (!form.batch && form.key.trim().includes("\n")) {
      errors.push({ field: "key", message: "errors.keyOneLine" });
    }
    if (editing && form.batch) errors.push({ field: "key", message: "errors.batchOnCreate" });
  }
  if (form.models.length === 0) errors.push({ field: "models", message: "errors.modelsRequired" });
  if (form.groups.length === 0) errors.push({ field: "groups", message: "errors.groupsRequired" });
  const mapping = checkModelMapping(form.modelMapping);
  if (mapping) errors.push(mapping);
  return errors;
}

/** The JSON body of POST /api/channel/ (create) or PUT /api/channel/ (with `id`). */
export function channelBody(form: ChannelForm, id?: number): Record<string, unknown> {
  const type = channelType(form.type);
  const config: Record<string, string> = {};
  for (const input of type.config) {
    const value = (form.config[input.field] ?? "").trim();
    if (value) config[input.field] = value;
  }
  if (form.type === 3 && !config.api_version) config.api_version = AZURE_DEFAULT_API_VERSION;
  const mapping = form.modelMapping.trim() ? JSON.stringify(JSON.parse(form.modelMapping)) : "";
  const body: Record<string, unknown> = {
    type: form.type,
    name: form.name.trim(),
    base_url: type.baseUrl === "none" ? "" : form.baseUrl.trim(),
    other: "",
    models: form.models.join(","),
    group: form.groups.join(","),
    model_mapping: mapping,
    system_prompt: form.systemPrompt,
    config: JSON.stringify(config),
    key: formKeys(form).join("\n"),
  };
  if (id !== undefined) body.id = id;
  return body;
}
