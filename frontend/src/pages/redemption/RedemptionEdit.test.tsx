import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../test/render";
import RedemptionEdit from "./RedemptionEdit";
import { validateRedemption } from "./redemptionForm";

const KEYS = ["a".repeat(32), "b".repeat(32), "c".repeat(32)];

function envelope(data: unknown): Response {
  return new Response(JSON.stringify({ success: true, message: "", data }), { status: 200 });
}

let posts: unknown[] = [];

beforeEach(() => {
  posts = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    if (init?.method === "POST" && String(input) === "/api/redemption/") {
      const body = JSON.parse(String(init.body)) as { count: number };
      posts.push(body);
      return envelope(KEYS.slice(0, body.count));
    }
    return envelope(null);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  localStorage.clear();
});

describe("redemption create flow", () => {
  it("refuses out-of-range values before calling the server", () => {
    expect(validateRedemption({ name: "promo", quota: 1, count: 100 }, true)).toEqual({});
    expect(validateRedemption({ name: "", quota: 0, count: 101 }, true)).toEqual({
      name: "validation.name",
      quota: "validation.quota",
      count: "validation.count",
    });
    expect(validateRedemption({ name: "x".repeat(21), quota: 1, count: 0 }, false)).toEqual({ name: "validation.name" });
  });

  it("creates three codes and shows them with copy-all and download", async () => {
    const user = userEvent.setup();
    const createObjectURL = vi.fn((blob: Blob) => {
      void blob;
      return "blob:codes";
    });
    Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() });
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});

    renderWithProviders(<RedemptionEdit />, { route: "/redemption/add" });
    await user.click(screen.getByRole("button", { name: "Create" }));
    expect(await screen.findByText("Enter a name of 1-20 characters")).toBeInTheDocument();
    expect(posts).toEqual([]);

    await user.type(screen.getByLabelText(/^Name/), "promo");
    const quota = screen.getByLabelText(/^Quota/);
    await user.clear(quota);
    await user.type(quota, "500000");
    expect(screen.getByText("Each code adds $1.00")).toBeInTheDocument();
    const count = screen.getByLabelText(/^Count/);
    await user.clear(count);
    await user.type(count, "3");
    await user.click(screen.getByRole("button", { name: "Create" }));

    await waitFor(() => expect(posts).toEqual([{ name: "promo", quota: 500000, count: 3 }]));
    const dialog = await screen.findByRole("dialog", { name: "3 codes created" });
    for (const key of KEYS) expect(within(dialog).getByText(key)).toBeInTheDocument();

    await user.click(within(dialog).getByRole("button", { name: "Copy all" }));
    expect(await navigator.clipboard.readText()).toBe(KEYS.join("\n") + "\n");

    await user.click(within(dialog).getByRole("button", { name: "Download .txt" }));
    expect(click).toHaveBeenCalledOnce();
    expect(await createObjectURL.mock.calls[0][0].text()).toBe(KEYS.join("\n") + "\n");
  });
});
