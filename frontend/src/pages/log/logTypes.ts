// Log types (spec 1.5.6) and the filter form's values <-> the /api/log query.

export const LOG_TYPES = [1, 2, 3, 4, 5] as const;

export const LOG_TYPE_COLORS: Record<number, string> = {
  1: "green",
  2: "blue",
  3: "orange",
  4: "violet",
  5: "gray",
};

export interface LogFilters {
  type: string;
  username: string;
  token_name: string;
  model_name: string;
  channel: string;
  start: string; // datetime-local value, local time
  end: string;
}

export const EMPTY_FILTERS: LogFilters = {
  type: "0",
  username: "",
  token_name: "",
  model_name: "",
  channel: "",
  start: "",
  end: "",
};

/** Seconds since the epoch for a datetime-local value ("" or invalid: no bound). */
export function localToUnix(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** The query for /api/log (admin) or /api/log/self (username and channel dropped). */
export function filterQuery(filters: LogFilters, admin: boolean): Record<string, string | number | undefined> {
  const channel = Number.parseInt(filters.channel, 10);
  return {
    type: Number(filters.type) || undefined,
    token_name: filters.token_name.trim(),
    model_name: filters.model_name.trim(),
    start_timestamp: localToUnix(filters.start),
    end_timestamp: localToUnix(filters.end),
    ...(admin
      ? { username: filters.username.trim(), channel: Number.isFinite(channel) && channel > 0 ? channel : undefined }
      : {}),
  };
}
