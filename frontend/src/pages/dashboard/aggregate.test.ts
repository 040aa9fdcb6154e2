import { describe, expect, it } from "vitest";

import { chartedModels, dayPoints, MAX_MODELS, modelShares, OTHER, utcDays, type DashboardRow } from "./aggregate";

const row = (Day: string, ModelName: string, Quota: number, RequestCount = 1): DashboardRow => ({
  Day,
  ModelName,
  Quota,
  RequestCount,
  PromptTokens: 2,
  CompletionTokens: 3,
});

describe("dashboard aggregation", () => {
  it("fills every day of the window, oldest first, in UTC", () => {
    expect(utcDays(3, new Date("2026-03-01T23:30:00Z"))).toEqual(["2026-02-27", "2026-02-28", "2026-03-01"]);
  });

  it("sums per day and stacks quota per model", () => {
    const rows = [row("2026-03-01", "gpt-4o", 10, 2), row("2026-03-01", "claude", 5), row("2026-02-28", "gpt-4o", 1)];
    const shares = modelShares(rows);
    expect(shares.map((s) => s.model)).toEqual(["gpt-4o", "claude"]);
    const points = dayPoints(rows, ["2026-02-27", "2026-02-28", "2026-03-01"], chartedModels(shares));
    expect(points[0]).toMatchObject({ day: "02-27", requests: 0, quota: 0, "gpt-4o": 0 });
    expect(points[2]).toMatchObject({ requests: 3, quota: 15, prompt: 4, completion: 6, "gpt-4o": 10, claude: 5 });
  });

  it("folds the smallest models into 'other'", () => {
    const rows = Array.from({ length: MAX_MODELS + 2 }, (_, i) => row("2026-03-01", `m${i}`, 100 - i));
    const models = chartedModels(modelShares(rows));
    expect(models).toHaveLength(MAX_MODELS);
    expect(models.at(-1)).toBe(OTHER);
    const [point] = dayPoints(rows, ["2026-03-01"], models);
    const other = rows.slice(MAX_MODELS - 1).reduce((sum, r) => sum + r.Quota, 0);
    expect(point[OTHER]).toBe(other);
  });
});
