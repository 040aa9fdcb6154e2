import { describe, expect, it } from "vitest";

import { renderQuota, usdToQuota } from "./quota";

describe("quota display", () => {
  it("shows USD when display_in_currency is on", () => {
    expect(renderQuota(500000, { quota_per_unit: 500000, display_in_currency: true })).toBe("$1.00");
    expect(renderQuota(250, { quota_per_unit: 500000, display_in_currency: true })).toBe("$0.00050");
  });
  it("shows raw units otherwise", () => {
    expect(renderQuota(1234, { quota_per_unit: 500000, display_in_currency: false })).toBe("1234");
  });
  it("converts USD typed by an admin back to units", () => {
    expect(usdToQuota(2.5, { quota_per_unit: 500000, display_in_currency: true })).toBe(1250000);
  });
});
