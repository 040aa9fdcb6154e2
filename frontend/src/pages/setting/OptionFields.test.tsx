import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../test/render";
import { OptionForm } from "./OptionFields";
import type { OptionsApi } from "./useOptions";

// Mantine's autosize Textarea listens to document.fonts, which jsdom lacks.
if (!("fonts" in document)) {
  Object.defineProperty(document, "fonts", { value: { addEventListener: () => {}, removeEventListener: () => {} } });
}

describe("ratio JSON editor", () => {
  beforeEach(() => {
    // The providers ask for /api/status; answer with an empty envelope.
    vi.spyOn(globalThis, "fetch").mockImplementation(async () =>
      new Response(JSON.stringify({ success: true, message: "", data: null })),
    );
  });
  afterEach(() => vi.restoreAllMocks());

  const setup = () => {
    const save = vi.fn<OptionsApi["save"]>().mockResolvedValue(undefined);
    const ctx: OptionsApi = { options: { ModelRatio: '{"gpt-4o":2.5}', GroupRatio: '{"default":1}' }, save };
    renderWithProviders(
      <OptionForm ctx={ctx} fields={[{ name: "ModelRatio", kind: "ratio" }, { name: "GroupRatio", kind: "ratio" }]} />,
    );
    return save;
  };

  it("shows the stored table pretty-printed and saves nothing unchanged", () => {
    setup();
    expect(screen.getByLabelText("Model ratios (JSON)")).toHaveValue('{\n  "gpt-4o": 2.5\n}');
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
  });

  it("refuses invalid JSON next to the field without saving", async () => {
    const save = setup();
    fireEvent.change(screen.getByLabelText("Model ratios (JSON)"), { target: { value: '{"gpt-4o": 2.5,' } });
    fireEvent.change(screen.getByLabelText("Group ratios (JSON)"), { target: { value: '{"vip": -2}' } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText(/^Not valid JSON/)).toBeInTheDocument();
    expect(screen.getByText('The ratio of "vip" must not be negative')).toBeInTheDocument();
    expect(save).not.toHaveBeenCalled();
  });

  it("saves only the changed, valid table", async () => {
    const save = setup();
    fireEvent.change(screen.getByLabelText("Group ratios (JSON)"), { target: { value: '{"default": 1, "vip": 2}' } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(save).toHaveBeenCalledTimes(1));
    expect(save).toHaveBeenCalledWith("GroupRatio", '{\n  "default": 1,\n  "vip": 2\n}');
  });
});
