// The redemption editor's checks (the server's limits, spec 1.5.5), free of React.

export const NAME_MAX = 20;
export const COUNT_MAX = 100;
export const QUOTA_MAX = 10 ** 15;
export const DEFAULT_QUOTA = 100000;

export interface RedemptionFormValues {
  name: string;
  quota: number | string;
  count: number | string;
}

export type RedemptionFormErrors = Partial<Record<keyof RedemptionFormValues, string>>;

function wholeIn(value: number | string, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** Translation keys (namespace "redemption") by field; {} when valid. `count` only when creating. */
export function validateRedemption(values: RedemptionFormValues, creating: boolean): RedemptionFormErrors {
  const errors: RedemptionFormErrors = {};
  const name = values.name.trim();
  if (!name || [...name].length > NAME_MAX) errors.name = "validation.name";
  if (!wholeIn(values.quota, 1, QUOTA_MAX)) errors.quota = "validation.quota";
  if (creating && !wholeIn(values.count, 1, COUNT_MAX)) errors.count = "validation.count";
  return errors;
}

/** The text file offered for download: one key per line. */
export function keysFile(keys: string[]): string {
  return keys.join("\n") + "\n";
}
