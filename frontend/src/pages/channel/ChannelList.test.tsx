import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../test/render";
import ChannelList from "./ChannelList";
import { responseTimeColor } from "./ChannelRow";
import type { Channel } from "./form";

function channel(id: number, name: string, change: Partial<Channel> = {}): Channel {
  return {
    id, type: 1, key: "", status: 1, name, weight: 0, created_time: 0, test_time: 0, response_time: 0, base_url: "",
    other: null, balance: 1.5, balance_updated_time: 0, models: "gpt-4o,gpt-4o-mini", group: "default", used_quota: 0,
    model_mapping: "", priority: 0, config: "", system_prompt: null, ...change,
  };
}

let rows: Channel[] = [];
let puts: Record<string, unknown>[] = [];
let gets: string[] = [];

beforeEach(() => {
  puts = [];
  gets = [];
  rows = [
    channel(3, "on", { response_time: 850, test_time: 1 }),
    channel(2, "off-by-hand", { status: 2, type: 14 }),
    channel(1, "off-by-robot", { status: 3, response_time: 6000, test_time: 1 }),
  ];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = String(input);
    const reply = (body: unknown) => new Response(JSON.stringify(body), { status: 200 });
    if (init?.method === "PUT") {
      const body = JSON.parse(String(init.body)) as Record<string, unknown>;
      puts.push(body);
      const row = rows.find((item) => item.id === body.id);
      return reply({ success: true, message: "", data: { ...row, ...body } });
    }
    gets.push(url);
    if (url.startsWith("/api/channel/test/3")) return reply({ success: true, message: "hi", time: 1.234, modelName: "gpt-4o-mini" });
    if (url.startsWith("/api/channel/?") || url.startsWith("/api/channel/search")) return reply({ success: true, message: "", data: rows });
    return reply({ success: true, message: "", data: null });
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  localStorage.clear();
});

describe("channel list", { timeout: 15_000 }, () => {
  it("tells manual from automatic disabling and colours response times", async () => {
    renderWithProviders(<ChannelList />, { route: "/channel" });
    const byHand = await screen.findByTestId("channel-row-2");
    expect(within(byHand).getByText("Disabled")).toBeInTheDocument();
    expect(within(byHand).getByText("Not tested")).toBeInTheDocument();
    // Anthropic has no balance query
    expect(within(byHand).getByText("-")).toBeInTheDocument();
    const robot = screen.getByTestId("channel-row-1");
    expect(within(robot).getByText("Auto-disabled")).toBeInTheDocument();
    expect(within(robot).getByText("6.00 s")).toBeInTheDocument();
    expect(within(screen.getByTestId("channel-row-3")).getByText("850 ms")).toBeInTheDocument();
    expect(within(screen.getByTestId("channel-row-3")).getByText("$1.50")).toBeInTheDocument();
    expect([0, 850, 2500, 4000, 6000].map(responseTimeColor)).toEqual(["gray", "green", "lime", "yellow", "red"]);
  });

  it("saves an inline priority or weight edit as that one field", async () => {
    const user = userEvent.setup();
    renderWithProviders(<ChannelList />, { route: "/channel" });
    const priority = await screen.findByLabelText("Priority of on");
    await user.clear(priority);
    await user.type(priority, "7{Enter}");
    await waitFor(() => expect(puts).toEqual([{ id: 3, priority: 7 }]));
    const weight = screen.getByLabelText("Weight of off-by-hand");
    await user.clear(weight);
    await user.type(weight, "4");
    await user.tab();
    await waitFor(() => expect(puts).toEqual([{ id: 3, priority: 7 }, { id: 2, weight: 4 }]));
    await user.click(screen.getByRole("button", { name: "Enable off-by-hand" }));
    await waitFor(() => expect(puts.at(-1)).toEqual({ id: 2, status: 1 }));
  });

  it("tests a channel and shows the time it took", async () => {
    const user = userEvent.setup();
    renderWithProviders(<ChannelList />, { route: "/channel" });
    await user.click(await screen.findByRole("button", { name: "Test on" }));
    const row = screen.getByTestId("channel-row-3");
    expect((await within(row).findAllByText("1.23 s")).length).toBe(2); // the button and the column
    expect(gets).toContain("/api/channel/test/3");
  });
});
