import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../../test/render";
import { rememberDefaultPassword } from "../../auth/session";
import { PasswordCard, passwordProblem } from "./PasswordCard";

afterEach(() => {
  vi.restoreAllMocks();
  localStorage.clear();
});

describe("password change", () => {
  it("checks length and the repeat", () => {
    expect(passwordProblem("abcdefgh", "abcdefgh")).toBeNull();
    expect(passwordProblem("short", "short")).toBe("password.length");
    expect(passwordProblem("a".repeat(21), "a".repeat(21))).toBe("password.length");
    expect(passwordProblem("abcdefgh", "abcdefgX")).toBe("password.mismatch");
  });

  it("saves the new password and drops the default-password warning", async () => {
    rememberDefaultPassword(true);
    const fetchMock = vi
      .spyOn(globalThis, "fetch")
      .mockImplementation(() => Promise.resolve(new Response(JSON.stringify({ success: true, message: "", data: null }))));
    renderWithProviders(<PasswordCard />);
    expect(screen.getByTestId("default-password-alert")).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText("New password"), { target: { value: "better-pass" } });
    fireEvent.change(screen.getByLabelText("Confirm new password"), { target: { value: "better-pass" } });
    fireEvent.click(screen.getByRole("button", { name: "Change password" }));
    await waitFor(() => expect(screen.queryByTestId("default-password-alert")).toBeNull());
    const call = fetchMock.mock.calls.find(([url]) => String(url) === "/api/user/self");
    expect(call?.[1]?.method).toBe("PUT");
    expect(JSON.parse(String(call?.[1]?.body))).toEqual({ password: "better-pass" });
  });
});
