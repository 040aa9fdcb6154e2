import { describe, expect, it } from "vitest";

import { type Channel, channelBody, checkModelMapping, emptyForm, formFromChannel, formKeys, validateForm } from "./form";
import { CHANNEL_TYPES, channelType } from "./types";

function form(change: Partial<ReturnType<typeof emptyForm>> = {}) {
  return { ...emptyForm(), name: "ch", key: "sk-1", models: ["gpt-4o"], ...change };
}

const messages = (errors: { message: string }[]) => errors.map((error) => error.message);

describe("model mapping check", () => {
  it("accepts nothing or an object of strings", () => {
    expect(checkModelMapping("")).toBeNull();
    expect(checkModelMapping("  \n")).toBeNull();
    expect(checkModelMapping('{"gpt-4": "gpt-4o", "a": ""}')).toBeNull();
  });

  it("refuses broken JSON, non-objects and non-string targets", () => {
    expect(checkModelMapping("{oops")?.message).toBe("errors.mappingJson");
    expect(checkModelMapping("[]")?.message).toBe("errors.mappingObject");
    expect(checkModelMapping('"gpt-4"')?.message).toBe("errors.mappingObject");
    expect(checkModelMapping("null")?.message).toBe("errors.mappingObject");
    expect(checkModelMapping('{"gpt-4": 4}')).toEqual({ field: "modelMapping", message: "errors.mappingValue", values: { model: "gpt-4" } });
    expect(checkModelMapping('{"gpt-4": {"to": "x"}}')?.values).toEqual({ model: "gpt-4" });
  });
});

describe("keys", () => {
  it("makes one key per non-empty line in batch mode", () => {
    expect(formKeys(form({ batch: true, key: " sk-a \n\n sk-b\r\nsk-c\n" }))).toEqual(["sk-a", "sk-b", "sk-c"]);
    expect(channelBody(form({ batch: true, key: "sk-a\n\nsk-b" })).key).toBe("sk-a\nsk-b");
  });

  it("refuses several lines without batch mode, and batch mode when editing", () => {
    expect(messages(validateForm(form({ key: "sk-a\nsk-b" }), false))).toEqual(["errors.keyOneLine"]);
    expect(messages(validateForm(form({ batch: true, key: "sk-a" }), true))).toEqual(["errors.batchOnCreate"]);
  });

  it("needs a key to create but not to edit", () => {
    expect(messages(validateForm(form({ key: "  " }), false))).toEqual(["errors.keyRequired"]);
    expect(messages(validateForm(form({ batch: true, key: "\n \n" }), false))).toEqual(["errors.keyRequired"]);
    expect(validateForm(form({ key: "" }), true)).toEqual([]);
  });

  it("builds the AWS and Vertex AI key from their fields", () => {
    const aws = form({ type: 33, key: "", config: { ak: "AK", sk: "SK", region: "us-east-1" } });
    expect(validateForm(aws, false)).toEqual([]);
    expect(channelBody(aws)).toMatchObject({ key: "AK|SK|us-east-1", base_url: "", config: JSON.stringify({ region: "us-east-1", ak: "AK", sk: "SK" }) });
    const missing = validateForm(form({ type: 33, key: "", config: { ak: "AK" } }), false);
    expect(missing.map((error) => error.field)).toEqual(["config.region", "config.sk"]);
    const vertex = form({ type: 42, config: { region: "us-central1", vertex_ai_project_id: "p", vertex_ai_adc: "{not json" } });
    expect(messages(validateForm(vertex, false))).toEqual(["errors.adcJson"]);
  });
});

describe("required fields", () => {
  it("lists every missing field", () => {
    const errors = validateForm({ ...emptyForm(), groups: [] }, false);
    expect(errors.map((error) => error.field)).toEqual(["name", "key", "models", "groups"]);
  });

  it("needs a base URL where the type has no default", () => {
    for (const id of [3, 8, 50, 43]) {
      expect(messages(validateForm(form({ type: id }), false))).toContain("errors.baseUrlRequired");
    }
    expect(validateForm(form({ type: 1 }), false)).toEqual([]);
    expect(messages(validateForm(form({ type: 21 }), false))).toEqual(["errors.configRequired"]);
    expect(messages(validateForm(form({ type: 37 }), false))).toEqual(["errors.configRequired"]);
  });
});

describe("request body", () => {
  it("compacts the mapping, joins lists and fills the Azure default version", () => {
    const body = channelBody(
      form({ type: 3, baseUrl: " https://x.openai.azure.com ", groups: ["default", "vip"], models: ["a", "b"], modelMapping: '{\n  "a": "b"\n}' }),
      7,
    );
    expect(body).toEqual({
      id: 7,
      type: 3,
      name: "ch",
      base_url: "https://x.openai.azure.com",
      other: "",
      models: "a,b",
      group: "default,vip",
      model_mapping: '{"a":"b"}',
      system_prompt: "",
      config: '{"api_version":"2024-03-01-preview"}',
      key: "sk-1",
    });
  });

  it("reads a stored channel back, legacy `other` included", () => {
    const stored = {
      id: 3, type: 17, key: "", status: 1, name: "ali", weight: 0, created_time: 0, test_time: 0, response_time: 0,
      base_url: null, other: "web-search", balance: 0, balance_updated_time: 0, models: "qwen-turbo, qwen-max",
      group: "default,vip", used_quota: 0, model_mapping: '{"a":"b"}', priority: 2, config: "", system_prompt: null,
    } satisfies Channel;
    const loaded = formFromChannel(stored);
    expect(loaded).toMatchObject({ type: 17, models: ["qwen-turbo", "qwen-max"], groups: ["default", "vip"], config: { plugin: "web-search" }, key: "" });
    expect(JSON.parse(loaded.modelMapping)).toEqual({ a: "b" });
  });
});

describe("channel type table", () => {
  it("has every type id 1..51 once", () => {
    const ids = CHANNEL_TYPES.map((type) => type.id).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
  });

  it("declares the type-specific fields the editor shows", () => {
    const fields = (id: number) => channelType(id).config.map((input) => input.field);
    expect(fields(3)).toEqual(["api_version"]);
    expect(fields(18)).toEqual(["api_version"]);
    expect(fields(24)).toEqual(["api_version"]);
    expect(fields(21)).toEqual(["library_id"]);
    expect(fields(17)).toEqual(["plugin"]);
    expect(fields(34)).toEqual(["user_id"]);
    expect(fields(37)).toEqual(["user_id"]);
    expect(fields(33)).toEqual(["region", "ak", "sk"]);
    expect(fields(42)).toEqual(["region", "vertex_ai_project_id", "vertex_ai_adc"]);
    expect(channelType(3).baseUrl).toBe("required");
    expect(channelType(50).baseUrl).toBe("required");
    expect(channelType(33).baseUrl).toBe("none");
    expect(channelType(1).baseUrl).toBe("optional");
    expect(channelType(99)).toMatchObject({ id: 99, en: "Unknown" });
  });
});
