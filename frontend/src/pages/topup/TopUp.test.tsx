import { describe, expect, it } from "vitest";

import { topUpUrl } from "./TopUp";

describe("top-up link", () => {
  it("adds the user and a transaction id for the shop", () => {
    const url = new URL(topUpUrl("https://shop.example/buy?item=5", { id: 7, username: "dave" }, "tx-1"));
    expect(url.origin + url.pathname).toBe("https://shop.example/buy");
    expect(Object.fromEntries(url.searchParams)).toEqual({ item: "5", username: "dave", user_id: "7", transaction_id: "tx-1" });
  });
});
