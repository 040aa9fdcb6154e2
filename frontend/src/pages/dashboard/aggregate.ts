// /api/user/dashboard rows (one per UTC day and model) into chart series: every day
// of the window present (zeros for quiet days), the biggest models kept by name and
// the rest folded into "other" so the stacked chart stays readable.

export interface DashboardRow {
  Day: string;
  ModelName: string;
  RequestCount: number;
  Quota: number;
  PromptTokens: number;
  CompletionTokens: number;
}

export interface DayPoint {
  day: string;
  requests: number;
  quota: number;
  prompt: number;
  completion: number;
  [model: string]: string | number;
}

export interface ModelShare {
  model: string;
  quota: number;
  requests: number;
  tokens: number;
}

export const OTHER = "__other__";
export const MAX_MODELS = 8;

/** The last `days` UTC dates (YYYY-MM-DD), oldest first, ending at `now`'s day. */
export function utcDays(days: number, now: Date = new Date()): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: days }, (_, i) =>
    new Date(today - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10),
  );
}

export function modelShares(rows: DashboardRow[]): ModelShare[] {
  const by = new Map<string, ModelShare>();
  for (const row of rows) {
    const name = row.ModelName || "-";
    const share = by.get(name) ?? { model: name, quota: 0, requests: 0, tokens: 0 };
    share.quota += row.Quota;
    share.requests += row.RequestCount;
    share.tokens += row.PromptTokens + row.CompletionTokens;
    by.set(name, share);
  }
  return [...by.values()].sort((a, b) => b.quota - a.quota || b.requests - a.requests);
}

/** Models charted by name (the rest count as OTHER). */
export function chartedModels(shares: ModelShare[]): string[] {
  const names = shares.map((s) => s.model);
  return names.length <= MAX_MODELS ? names : [...names.slice(0, MAX_MODELS - 1), OTHER];
}

export function dayPoints(rows: DashboardRow[], days: string[], models: string[]): DayPoint[] {
  const named = new Set(models.filter((m) => m !== OTHER));
  const points = new Map<string, DayPoint>();
  for (const day of days) {
    const point: DayPoint = { day: day.slice(5), requests: 0, quota: 0, prompt: 0, completion: 0 };
    for (const model of models) point[model] = 0;
    points.set(day, point);
  }
  for (const row of rows) {
    const point = points.get(row.Day);
    if (!point) continue;
    point.requests += row.RequestCount;
    point.quota += row.Quota;
    point.prompt += row.PromptTokens;
    point.completion += row.CompletionTokens;
    const key = named.has(row.ModelName || "-") ? row.ModelName || "-" : OTHER;
    point[key] = Number(point[key] ?? 0) + row.Quota;
  }
  return [...points.values()];
}
