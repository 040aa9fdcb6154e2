// Quota as the reference shows it: USD (quota / QuotaPerUnit) when
// DisplayInCurrencyEnabled, raw units otherwise.

export interface QuotaDisplay {
  quota_per_unit: number;
  display_in_currency: boolean;
}

export const DEFAULT_QUOTA_DISPLAY: QuotaDisplay = { quota_per_unit: 500000, display_in_currency: true };

export function renderQuota(quota: number, display: QuotaDisplay = DEFAULT_QUOTA_DISPLAY, digits = 2): string {
  if (!display.display_in_currency) return renderNumber(quota);
  const perUnit = display.quota_per_unit > 0 ? display.quota_per_unit : DEFAULT_QUOTA_DISPLAY.quota_per_unit;
  const usd = quota / perUnit;
  // Tiny amounts keep significant digits instead of collapsing to $0.00.
  const fixed = Math.abs(usd) > 0 && Math.abs(usd) < 10 ** -digits ? usd.toPrecision(2) : usd.toFixed(digits);
  return `$${fixed}`;
}

/** Raw units for a USD amount typed by an admin (inverse of renderQuota). */
export function usdToQuota(usd: number, display: QuotaDisplay = DEFAULT_QUOTA_DISPLAY): number {
  return Math.round(usd * display.quota_per_unit);
}

export function renderNumber(n: number): string {
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function timestampToString(seconds: number): string {
  if (!seconds) return "-";
  const d = new Date(seconds * 1000);
  const pad = (v: number) => String(v).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
