import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../test/render";
import ChannelEdit from "./ChannelEdit";

function envelope(data: unknown): Response {
  return new Response(JSON.stringify({ success: true, message: "", data }), { status: 200 });
}

let sent: { method: string; url: string; body: Record<string, unknown> }[] = [];

beforeEach(() => {
  sent = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = String(input);
    if (init?.method === "POST" || init?.method === "PUT") {
      sent.push({ method: init.method, url, body: JSON.parse(String(init.body)) as Record<string, unknown> });
      return envelope(init.method === "POST" ? [1] : {});
    }
    if (url.startsWith("/api/group/")) return envelope(["default", "vip"]);
    if (url.startsWith("/api/models")) return envelope({ "1": ["gpt-4o", "gpt-4o-mini"], "3": ["gpt-4"] });
    if (url.startsWith("/api/channel/models")) {
      return new Response(JSON.stringify({ object: "list", data: [{ id: "gpt-4o" }, { id: "claude-3" }, { id: "gpt-4o" }] }));
    }
    if (url.startsWith("/api/channel/9")) {
      return envelope({
        id: 9, type: 3, key: "", status: 1, name: "azure", weight: 0, created_time: 0, test_time: 0, response_time: 0,
        base_url: "https://x.openai.azure.com", other: "2023-05-15", balance: 0, balance_updated_time: 0, models: "gpt-4",
        group: "default", used_quota: 0, model_mapping: "", priority: 0, config: "", system_prompt: null,
      });
    }
    return envelope(null);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  localStorage.clear();
});

describe("channel editor", { timeout: 15_000 }, () => {
  it("refuses an invalid model mapping with a clear message", async () => {
    const user = userEvent.setup();
    renderWithProviders(<ChannelEdit />, { route: "/channel/add" });
    await user.type(screen.getByLabelText(/^Name/), "ch");
    await user.type(screen.getByLabelText(/^Key/), "sk-1");
    await user.click(screen.getByRole("button", { name: "Fill default models" }));
    await user.click(screen.getByLabelText("Model mapping"));
    await user.paste('{"gpt-4o": 4}');
    await user.click(screen.getByRole("button", { name: "Submit" }));
    expect((await screen.findAllByText('Model mapping: the target of “gpt-4o” must be a string.')).length).toBeGreaterThan(0);
    await user.clear(screen.getByLabelText("Model mapping"));
    await user.paste("{oops");
    await user.click(screen.getByRole("button", { name: "Submit" }));
    expect((await screen.findAllByText(/Model mapping is not valid JSON/)).length).toBeGreaterThan(0);
    expect(sent).toEqual([]);
  });

  it("lists the missing required fields and sends nothing", async () => {
    const user = userEvent.setup();
    renderWithProviders(<ChannelEdit />, { route: "/channel/add" });
    await user.click(screen.getByRole("button", { name: "Submit" }));
    // the first problem is also the toast's text
    expect((await screen.findAllByText("Enter a name.")).length).toBe(2);
    expect(screen.getByText("Enter a key.")).toBeInTheDocument();
    expect(screen.getByText("Choose at least one model.")).toBeInTheDocument();
    expect(sent).toEqual([]);
  });

  it("creates one channel per line in batch mode, with default and custom models", async () => {
    const user = userEvent.setup();
    renderWithProviders(<ChannelEdit />, { route: "/channel/add" });
    await user.click(screen.getByLabelText(/^Name/));
    await user.paste("batch");
    await user.click(screen.getByLabelText("Batch create (one key per line)"));
    await user.click(screen.getByLabelText(/^Keys/));
    await user.paste("sk-a\n\nsk-b\n");
    await user.click(screen.getByRole("button", { name: "Fill default models" }));
    await user.click(screen.getByLabelText("Custom models"));
    await user.paste("my-model, gpt-4o");
    await user.keyboard("{Enter}");
    await user.click(screen.getByRole("button", { name: "Submit" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toMatchObject({ method: "POST", url: "/api/channel/" });
    expect(sent[0].body).toMatchObject({ type: 1, name: "batch", key: "sk-a\nsk-b", models: "gpt-4o,gpt-4o-mini,my-model", group: "default" });
  });

  it("shows the Azure fields and keeps an empty key when editing", async () => {
    const user = userEvent.setup();
    renderWithProviders(
      <Routes>
        <Route path="/channel/edit/:id" element={<ChannelEdit />} />
      </Routes>,
      { route: "/channel/edit/9" },
    );
    expect(await screen.findByLabelText(/^Azure endpoint/)).toHaveValue("https://x.openai.azure.com");
    // the legacy `other` column becomes the API version
    expect(screen.getByLabelText("API version")).toHaveValue("2023-05-15");
    expect(screen.queryByLabelText("Batch create (one key per line)")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Submit" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0].method).toBe("PUT");
    expect(sent[0].body).toMatchObject({ id: 9, type: 3, key: "", other: "", config: '{"api_version":"2023-05-15"}' });
  });
});
