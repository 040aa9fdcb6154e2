import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { renderWithProviders } from "../../test/render";
import Login from "./Login";
import { authorizeUrl } from "./oauth";
import Register, { validateRegistration } from "./Register";
import { hasDefaultPassword, targetOf } from "./session";

type Route = (url: string, init?: RequestInit) => unknown;

/** Answer fetch by path; unknown paths get an empty successful envelope. */
function serve(routes: Record<string, Route>) {
  return vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = String(input);
    const path = url.split("?")[0];
    const body = routes[path]?.(url, init) ?? { success: true, message: "", data: null };
    return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
  });
}

const STATUS = {
  success: true,
  message: "",
  data: {
    version: "v1",
    start_time: 0,
    github_oauth: true,
    github_client_id: "gh-client",
    lark_client_id: "",
    oidc: false,
    wechat_login: false,
    turnstile_check: false,
    email_verification: false,
  },
};

beforeEach(() => localStorage.clear());
afterEach(() => vi.restoreAllMocks());

describe("login", () => {
  it("sends the credentials and shows the server's refusal", async () => {
    const fetchMock = serve({
      "/api/status": () => STATUS,
      "/api/user/login": () => ({ success: false, message: "用户名或密码错误，或用户已被封禁" }),
    });
    renderWithProviders(<Login />, { route: "/login" });
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "bob" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "secret-1" } });
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByText("用户名或密码错误，或用户已被封禁")).toBeInTheDocument();
    const call = fetchMock.mock.calls.find(([url]) => String(url) === "/api/user/login");
    expect(JSON.parse(String(call?.[1]?.body))).toEqual({ username: "bob", password: "secret-1" });
  });

  it("remembers that root signed in with the default password", async () => {
    serve({
      "/api/status": () => STATUS,
      "/api/user/login": () => ({ success: true, message: "", data: { id: 1, username: "root", role: 100, status: 1 } }),
    });
    renderWithProviders(<Login />, { route: "/login" });
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "root" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "123456" } });
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByText(/default password 123456/)).toBeInTheDocument();
    expect(hasDefaultPassword()).toBe(true);
  });

  it("offers GitHub only when the server enables it", async () => {
    serve({ "/api/status": () => STATUS });
    renderWithProviders(<Login />, { route: "/login" });
    expect(await screen.findByRole("button", { name: "Log in with GitHub" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Log in with WeChat" })).toBeNull();
  });

  it("goes back only to pages of this app", () => {
    expect(targetOf({ from: "/topup?x=1" })).toBe("/topup?x=1");
    expect(targetOf({ from: "https://evil.example" })).toBe("/");
    expect(targetOf(null)).toBe("/");
  });

  it("builds the provider authorize URLs", () => {
    const status = { ...STATUS.data, lark_client_id: "cli_1", oidc_client_id: "o", oidc_authorization_endpoint: "https://id.example/auth" } as never;
    expect(authorizeUrl("github", status, "st", "https://me.example")).toBe(
      "https://github.com/login/oauth/authorize?client_id=gh-client&state=st&scope=user%3Aemail",
    );
    expect(authorizeUrl("lark", status, "st", "https://me.example")).toContain(
      "redirect_uri=https%3A%2F%2Fme.example%2Foauth%2Flark&app_id=cli_1&state=st",
    );
    expect(authorizeUrl("oidc", status, "st", "https://me.example")).toMatch(/^https:\/\/id\.example\/auth\?client_id=o&.*response_type=code/);
  });
});

describe("register", () => {
  const form = { username: "carol", password: "carol-pass", password2: "carol-pass", email: "", code: "" };

  it("validates before asking the server", () => {
    expect(validateRegistration(form, false)).toBeNull();
    expect(validateRegistration({ ...form, username: " " }, false)).toBe("register.errors.username");
    expect(validateRegistration({ ...form, username: "a".repeat(13) }, false)).toBe("register.errors.usernameLong");
    expect(validateRegistration({ ...form, password: "short", password2: "short" }, false)).toBe("register.errors.passwordLength");
    expect(validateRegistration({ ...form, password2: "other-pass" }, false)).toBe("register.errors.mismatch");
    expect(validateRegistration(form, true)).toBe("register.errors.email");
  });

  it("sends the inviter's code from ?aff=", async () => {
    const fetchMock = serve({ "/api/status": () => STATUS });
    renderWithProviders(<Register />, { route: "/register?aff=Ab12" });
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "carol" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "carol-pass" } });
    fireEvent.change(screen.getByLabelText("Confirm password"), { target: { value: "carol-pass" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign up" }));
    await waitFor(() => expect(fetchMock.mock.calls.some(([url]) => String(url).startsWith("/api/user/register"))).toBe(true));
    const call = fetchMock.mock.calls.find(([url]) => String(url).startsWith("/api/user/register"));
    expect(JSON.parse(String(call?.[1]?.body))).toMatchObject({ username: "carol", password: "carol-pass", aff_code: "Ab12" });
  });
});
