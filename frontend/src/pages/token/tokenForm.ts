// The token editor's state, its checks, and the body it sends (spec 1.5.3, 2.2).
// Kept free of React so the rules are tested directly.
import type { Token } from "./types";

export const DEFAULT_REMAIN_QUOTA = 500000;
export const NAME_MAX_BYTES = 30;
export const QUOTA_MAX = 10 ** 18;

export interface TokenFormValues {
  name: string;
  models: string[];
  subnet: string;
  neverExpires: boolean;
  /** `YYYY-MM-DDTHH:mm` in local time, as a datetime-local input holds it. */
  expiresAt: string;
  unlimited: boolean;
  remainQuota: number | string;
}

export type TokenFormErrors = Partial<Record<"name" | "subnet" | "expiresAt" | "remainQuota", string>>;

export interface TokenBody {
  name: string;
  models: string;
  subnet: string;
  expired_time: number;
  remain_quota: number;
  unlimited_quota: boolean;
}

export const EXPIRY_PRESETS = ["month", "day", "hour", "minute"] as const;
export type ExpiryPreset = (typeof EXPIRY_PRESETS)[number];

export function emptyForm(): TokenFormValues {
  return {
    name: "",
    models: [],
    subnet: "",
    neverExpires: true,
    expiresAt: "",
    unlimited: false,
    remainQuota: DEFAULT_REMAIN_QUOTA,
  };
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** A Date as a datetime-local value (local time, minute precision). */
export function toLocalInput(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** now + the preset, as a datetime-local value. */
export function presetExpiry(preset: ExpiryPreset, now: Date = new Date()): string {
  const date = new Date(now.getTime());
  if (preset === "month") date.setMonth(date.getMonth() + 1);
  else if (preset === "day") date.setDate(date.getDate() + 1);
  else if (preset === "hour") date.setHours(date.getHours() + 1);
  else date.setMinutes(date.getMinutes() + 1);
  return toLocalInput(date);
}

/** Unix seconds of a datetime-local value, or null when it is not a valid date. */
export function parseLocalInput(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value.trim())) return null;
  const ms = new Date(value.trim()).getTime();
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

function isIPv4(ip: string): boolean {
  const parts = ip.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6(ip: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(ip) || !ip.includes(":")) return false;
  const doubles = ip.split("::").length - 1;
  if (doubles > 1) return false;
  let groups = ip.split(":").filter((g) => g !== "");
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const last = groups[groups.length - 1] ?? "";
  if (last.includes(".")) {
    if (!isIPv4(last)) return false;
    groups = [...groups.slice(0, -1), "0", "0"];
  }
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return doubles === 1 ? groups.length < 8 : groups.length === 8;
}

/** The first entry of a comma-separated CIDR list that is not a valid CIDR, or null. */
export function invalidSubnet(raw: string): string | null {
  if (!raw.trim()) return null;
  for (const entry of raw.split(",").map((s) => s.trim())) {
    const [ip, prefix, extra] = entry.split("/");
    if (extra !== undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return entry;
    const bits = Number(prefix);
    if (isIPv4(ip) ? bits > 32 : !isIPv6(ip) || bits > 128) return entry;
  }
  return null;
}

/** Translation keys (namespace "token") of the problems, by field; {} when the form is valid. */
export function validateToken(values: TokenFormValues, now: Date = new Date()): TokenFormErrors {
  const errors: TokenFormErrors = {};
  const name = values.name.trim();
  if (!name) errors.name = "validation.nameRequired";
  else if (new TextEncoder().encode(name).length > NAME_MAX_BYTES) errors.name = "validation.nameTooLong";
  if (invalidSubnet(values.subnet) !== null) errors.subnet = "validation.subnet";
  if (!values.neverExpires) {
    const at = parseLocalInput(values.expiresAt);
    if (at === null) errors.expiresAt = "validation.expiryInvalid";
    else if (at * 1000 <= now.getTime()) errors.expiresAt = "validation.expiryPast";
  }
  if (!values.unlimited) {
    const quota = values.remainQuota;
    if (quota === "" || typeof quota !== "number" || !Number.isInteger(quota) || quota < 0 || quota > QUOTA_MAX)
      errors.remainQuota = "validation.quota";
  }
  return errors;
}

/** The JSON body for POST/PUT /api/token/ (call only after validateToken passed). */
export function toBody(values: TokenFormValues): TokenBody {
  return {
    name: values.name.trim(),
    models: values.models.join(","),
    subnet: values.subnet
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .join(","),
    expired_time: values.neverExpires ? -1 : (parseLocalInput(values.expiresAt) ?? -1),
    remain_quota: values.unlimited ? Number(values.remainQuota) || 0 : Number(values.remainQuota),
    unlimited_quota: values.unlimited,
  };
}

/** Form values for an existing token. */
export function fromToken(token: Token): TokenFormValues {
  const never = token.expired_time === -1;
  return {
    name: token.name,
    models: (token.models ?? "")
      .split(",")
      .map((m) => m.trim())
      .filter(Boolean),
    subnet: token.subnet ?? "",
    neverExpires: never,
    expiresAt: never ? "" : toLocalInput(new Date(token.expired_time * 1000)),
    unlimited: token.unlimited_quota,
    remainQuota: token.remain_quota,
  };
}
