import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../test/render";
import TokenEdit from "./TokenEdit";

function envelope(data: unknown): Response {
  return new Response(JSON.stringify({ success: true, message: "", data }), { status: 200 });
}

let posts: { url: string; body: unknown }[] = [];
let puts: unknown[] = [];

const EXISTING = {
  id: 5,
  user_id: 1,
  key: "k".repeat(48),
  status: 1,
  name: "old",
  created_time: 1,
  accessed_time: 1,
  expired_time: -1,
  remain_quota: 1000,
  unlimited_quota: false,
  used_quota: 0,
  models: "gpt-4o",
  subnet: "10.0.0.0/8",
};

beforeEach(() => {
  posts = [];
  puts = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = String(input);
    if (init?.method === "POST") {
      posts.push({ url, body: JSON.parse(String(init.body)) });
      return envelope({ id: 1, key: "k" });
    }
    if (init?.method === "PUT") {
      puts.push(JSON.parse(String(init.body)));
      return envelope(EXISTING);
    }
    if (url === "/api/token/5") return envelope(EXISTING);
    if (url.startsWith("/api/user/available_models")) return envelope(["gpt-4o", "o3"]);
    if (url.startsWith("/api/status")) return envelope({ quota_per_unit: 500000, display_in_currency: true });
    return envelope(null);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  localStorage.clear();
});

describe("token editor", () => {
  it("shows what is wrong and sends nothing while the form is invalid", async () => {
    const user = userEvent.setup();
    renderWithProviders(<TokenEdit />, { route: "/token/add" });
    await user.type(screen.getByLabelText(/IP subnets/), "10.0.0.1");
    const quota = screen.getByLabelText(/Remaining quota/);
    await user.clear(quota);
    fireEvent.change(screen.getByLabelText(/Expires at/), { target: { value: "2001-01-01T00:00" } });
    await user.click(screen.getByRole("button", { name: "Save" }));

    expect(await screen.findByText("Enter a name")).toBeInTheDocument();
    expect(screen.getByText(/Enter CIDRs such as/)).toBeInTheDocument();
    expect(screen.getByText("The expiry time must be in the future")).toBeInTheDocument();
    expect(screen.getByText("Enter a whole number of at least 0")).toBeInTheDocument();
    expect(posts).toEqual([]);
  });

  it("creates a token expiring in one hour with a limited quota", async () => {
    const user = userEvent.setup();
    renderWithProviders(<TokenEdit />, { route: "/token/add" });
    await user.type(screen.getByLabelText(/^Name/), "ci-key");
    await user.type(screen.getByLabelText(/IP subnets/), "10.0.0.0/8");
    const quota = screen.getByLabelText(/Remaining quota/);
    await user.clear(quota);
    await user.type(quota, "250000");
    expect(screen.getByText("Equals $0.50")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "+1 hour" }));
    const before = Math.floor(Date.now() / 1000);
    await user.click(screen.getByRole("button", { name: "Save" }));

    await waitFor(() => expect(posts).toHaveLength(1));
    const body = posts[0].body as Record<string, unknown>;
    expect(posts[0].url).toBe("/api/token/");
    expect(body).toMatchObject({ name: "ci-key", subnet: "10.0.0.0/8", remain_quota: 250000, unlimited_quota: false, models: "" });
    // Minute precision: within the hour after now, never in the past.
    expect(body.expired_time).toBeGreaterThan(before + 3600 - 61);
    expect(body.expired_time).toBeLessThanOrEqual(before + 3600);
  });

  it("sends an unlimited token that never expires", async () => {
    const user = userEvent.setup();
    renderWithProviders(<TokenEdit />, { route: "/token/add" });
    await user.type(screen.getByLabelText(/^Name/), "forever");
    await user.click(screen.getByRole("button", { name: "+1 day" }));
    await user.click(screen.getByRole("button", { name: "Never expires" }));
    await user.click(screen.getByLabelText("Unlimited quota"));
    expect(screen.getByLabelText(/Remaining quota/)).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Save" }));

    await waitFor(() => expect(posts).toHaveLength(1));
    expect(posts[0].body).toMatchObject({ name: "forever", expired_time: -1, unlimited_quota: true });
  });

  it("loads an existing token and saves every field back with its id", async () => {
    const user = userEvent.setup();
    renderWithProviders(
      <Routes>
        <Route path="/token/edit/:id" element={<TokenEdit />} />
        <Route path="/token" element={<p>list</p>} />
      </Routes>,
      { route: "/token/edit/5" },
    );
    const name = screen.getByLabelText(/^Name/);
    await waitFor(() => expect(name).toHaveValue("old"));
    expect(screen.getByLabelText(/IP subnets/)).toHaveValue("10.0.0.0/8");
    expect(screen.getByText("gpt-4o")).toBeInTheDocument();
    await user.clear(name);
    await user.type(name, "renamed");
    await user.click(screen.getByRole("button", { name: "Save" }));

    await waitFor(() => expect(puts).toHaveLength(1));
    expect(puts[0]).toEqual({
      id: 5,
      name: "renamed",
      models: "gpt-4o",
      subnet: "10.0.0.0/8",
      expired_time: -1,
      remain_quota: 1000,
      unlimited_quota: false,
    });
    expect(await screen.findByText("list")).toBeInTheDocument();
  });
});
