import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../test/render";
import { hashText, NoticeModal } from "./NoticeModal";

function serveNotice(text: string) {
  return vi.spyOn(globalThis, "fetch").mockImplementation((input) => {
    const data = String(input).startsWith("/api/notice") ? text : null;
    return Promise.resolve(new Response(JSON.stringify({ success: true, message: "", data }), { status: 200 }));
  });
}

beforeEach(() => localStorage.clear());
afterEach(() => vi.restoreAllMocks());

describe("notice modal", () => {
  it("shows a notice once, and again when its text changes", async () => {
    serveNotice("Maintenance tonight");
    const first = renderWithProviders(<NoticeModal />);
    expect(await screen.findByText("Maintenance tonight")).toBeInTheDocument();
    fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    await waitFor(() => expect(screen.queryByText("Maintenance tonight")).toBeNull());
    first.unmount();

    const fetchMock = serveNotice("Maintenance tonight");
    const second = renderWithProviders(<NoticeModal />);
    await waitFor(() => expect(fetchMock.mock.calls.some(([url]) => String(url) === "/api/notice")).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(screen.queryByText("Maintenance tonight")).toBeNull();
    second.unmount();

    serveNotice("New prices");
    renderWithProviders(<NoticeModal />);
    expect(await screen.findByText("New prices")).toBeInTheDocument();
  });

  it("fingerprints differ for different texts", () => {
    expect(hashText("a")).not.toBe(hashText("b"));
    expect(hashText("same")).toBe(hashText("same"));
  });
});
