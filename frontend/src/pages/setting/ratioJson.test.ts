import { describe, expect, it } from "vitest";

import { checkRatioJson, prettyJson } from "./ratioJson";

describe("checkRatioJson", () => {
  it("accepts an object of non-negative numbers", () => {
    expect(checkRatioJson('{"gpt-4o": 2.5, "free": 0}')).toBeNull();
    expect(checkRatioJson("{}")).toBeNull();
  });

  it("refuses broken JSON with the parser's detail", () => {
    const problem = checkRatioJson('{"gpt-4o": 2.5,');
    expect(problem?.code).toBe("syntax");
    expect(problem && "detail" in problem && problem.detail).toBeTruthy();
  });

  it("refuses documents that are not a table of numbers", () => {
    expect(checkRatioJson("[1, 2]")).toEqual({ code: "notObject" });
    expect(checkRatioJson("null")).toEqual({ code: "notObject" });
    expect(checkRatioJson("3")).toEqual({ code: "notObject" });
    expect(checkRatioJson('{"a": "1"}')).toEqual({ code: "notNumber", name: "a" });
    expect(checkRatioJson('{"a": true}')).toEqual({ code: "notNumber", name: "a" });
    expect(checkRatioJson('{"a": {"b": 1}}')).toEqual({ code: "notNumber", name: "a" });
    expect(checkRatioJson('{"a": 1e999}')).toEqual({ code: "notNumber", name: "a" });
    expect(checkRatioJson('{"ok": 1, "bad": -0.5}')).toEqual({ code: "negative", name: "bad" });
  });

  it("pretty-prints valid JSON and leaves invalid text alone", () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson("{oops")).toBe("{oops");
  });
});
