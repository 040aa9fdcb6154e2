// Ratio options (ModelRatio, CompletionRatio, GroupRatio) are a JSON object of
// name -> non-negative finite number. Checked in the browser before the PUT so an
// admin sees the mistake next to the field instead of a generic server refusal.

export type RatioProblem =
  | { code: "syntax"; detail: string }
  | { code: "notObject" }
  | { code: "notNumber"; name: string }
  | { code: "negative"; name: string };

/** null when `text` is a valid ratio table, otherwise what is wrong with it. */
export function checkRatioJson(text: string): RatioProblem | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { code: "syntax", detail: error instanceof Error ? error.message : String(error) };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { code: "notObject" };
  for (const [name, ratio] of Object.entries(value as Record<string, unknown>)) {
    if (typeof ratio !== "number" || !Number.isFinite(ratio)) return { code: "notNumber", name };
    if (ratio < 0) return { code: "negative", name };
  }
  return null;
}

/** Re-indent a valid table for editing (2 spaces); other text is returned unchanged. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
