import { describe, expect, it } from "vitest";

import { chatUrl } from "./chatLinks";
import { emptyForm, invalidSubnet, parseLocalInput, presetExpiry, toBody, validateToken } from "./tokenForm";

const NOW = new Date(2026, 0, 31, 12, 0);

describe("token form rules", () => {
  it("accepts IPv4 and IPv6 CIDR lists and names the first bad entry", () => {
    expect(invalidSubnet("")).toBeNull();
    expect(invalidSubnet("192.168.0.0/24, 10.0.0.0/8")).toBeNull();
    expect(invalidSubnet("::1/128,2001:db8::/32,::ffff:10.0.0.0/104")).toBeNull();
    expect(invalidSubnet("10.0.0.1")).toBe("10.0.0.1");
    expect(invalidSubnet("10.0.0.0/8, 300.1.1.1/24")).toBe("300.1.1.1/24");
    expect(invalidSubnet("10.0.0.0/33")).toBe("10.0.0.0/33");
    expect(invalidSubnet("2001:db8::1::/64")).toBe("2001:db8::1::/64");
    expect(invalidSubnet("example.com/24")).toBe("example.com/24");
  });

  it("computes the expiry presets from now, month-end included", () => {
    expect(presetExpiry("minute", NOW)).toBe("2026-01-31T12:01");
    expect(presetExpiry("hour", NOW)).toBe("2026-01-31T13:00");
    expect(presetExpiry("day", NOW)).toBe("2026-02-01T12:00");
    // Jan 31 + 1 month rolls over into March (JS Date); it is still about a month ahead.
    expect(parseLocalInput(presetExpiry("month", NOW))).toBeGreaterThan(NOW.getTime() / 1000 + 27 * 86400);
  });

  it("requires a future expiry, a whole non-negative quota and a short name", () => {
    const base = { ...emptyForm(), name: "ci" };
    expect(validateToken(base, NOW)).toEqual({});
    expect(validateToken({ ...base, name: "  " }, NOW).name).toBe("validation.nameRequired");
    expect(validateToken({ ...base, name: "令".repeat(11) }, NOW).name).toBe("validation.nameTooLong");
    expect(validateToken({ ...base, neverExpires: false, expiresAt: "2026-01-31T11:59" }, NOW).expiresAt).toBe(
      "validation.expiryPast",
    );
    expect(validateToken({ ...base, neverExpires: false, expiresAt: "soon" }, NOW).expiresAt).toBe(
      "validation.expiryInvalid",
    );
    expect(validateToken({ ...base, remainQuota: "" }, NOW).remainQuota).toBe("validation.quota");
    expect(validateToken({ ...base, remainQuota: 1.5 }, NOW).remainQuota).toBe("validation.quota");
    expect(validateToken({ ...base, remainQuota: -1 }, NOW).remainQuota).toBe("validation.quota");
    // Unlimited tokens ignore the quota field.
    expect(validateToken({ ...base, unlimited: true, remainQuota: "" }, NOW)).toEqual({});
  });

  it("builds the API body: -1 for never, trimmed lists", () => {
    const body = toBody({ ...emptyForm(), name: " ci ", models: ["gpt-4o", "o3"], subnet: " 10.0.0.0/8 ,, ::1/128 " });
    expect(body).toEqual({
      name: "ci",
      models: "gpt-4o,o3",
      subnet: "10.0.0.0/8,::1/128",
      expired_time: -1,
      remain_quota: 500000,
      unlimited_quota: false,
    });
    const at = toBody({ ...emptyForm(), name: "x", neverExpires: false, expiresAt: "2026-02-01T12:00" });
    expect(at.expired_time).toBe(new Date(2026, 1, 1, 12, 0).getTime() / 1000);
  });

  it("builds chat-app links with the server address pre-filled", () => {
    const server = "https://api.example.com";
    expect(chatUrl("ama", "abc", server)).toBe("ama://set-api-key?server=https%3A%2F%2Fapi.example.com&key=sk-abc");
    expect(chatUrl("opencat", "abc", server)).toBe(
      "opencat://team/join?domain=https%3A%2F%2Fapi.example.com&token=sk-abc",
    );
    expect(chatUrl("next", "abc", server)).toBe(
      'https://app.nextchat.dev/#/?settings={"key":"sk-abc","url":"https://api.example.com"}',
    );
    expect(chatUrl("next", "abc", server, "https://chat.example.com/")).toBe(
      'https://chat.example.com/#/?settings={"key":"sk-abc","url":"https://api.example.com"}',
    );
    expect(chatUrl("lobechat", "abc", server, "https://lobe.example.com")).toBe(
      'https://lobe.example.com/?settings={"keyVaults":{"openai":{"apiKey":"sk-abc","baseURL":"https://api.example.com/v1"}}}',
    );
  });
});
