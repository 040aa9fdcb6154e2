import { afterEach, describe, expect, it, vi } from "vitest";

import { api, ApiError, request, setUnauthorizedHandler, withQuery } from "./client";

function reply(status: number, body: unknown): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
}

afterEach(() => {
  vi.restoreAllMocks();
  setUnauthorizedHandler(null);
});

describe("api client", () => {
  it("returns data of a successful envelope and sends JSON with the cookie", async () => {
    const fetchMock = vi.spyOn(globalThis, "fetch").mockResolvedValue(reply(200, { success: true, message: "", data: { id: 7 } }));
    const data = await api.post<{ id: number }>("/api/token", { name: "t" });
    expect(data).toEqual({ id: 7 });
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe("/api/token");
    expect(init?.method).toBe("POST");
    expect(init?.credentials).toBe("same-origin");
    expect(init?.body).toBe(JSON.stringify({ name: "t" }));
  });

  it("throws the server's message when success is false", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(reply(200, { success: false, message: "无效的参数" }));
    await expect(api.get("/api/user/self")).rejects.toThrow(new ApiError("无效的参数", 200));
  });

  it("reports a 429 with an empty body as rate limited", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(reply(429, ""));
    await expect(request("GET", "/api/status")).rejects.toMatchObject({ message: "rate_limited", status: 429 });
  });

  it("reports network failures without leaking the exception", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Failed to fetch"));
    await expect(api.get("/api/status")).rejects.toMatchObject({ message: "network", status: 0 });
  });

  it("calls the unauthorized handler on 401", async () => {
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    vi.spyOn(globalThis, "fetch").mockResolvedValue(reply(401, { success: false, message: "无权进行此操作，未登录且未提供 access token" }));
    await expect(api.get("/api/user/self")).rejects.toBeInstanceOf(ApiError);
    expect(handler).toHaveBeenCalledOnce();
  });

  it("builds query strings without empty values", () => {
    expect(withQuery("/api/log/", { p: 0, type: undefined, model_name: "", token_name: "a b" })).toBe("/api/log/?p=0&token_name=a+b");
    expect(withQuery("/api/x?a=1", { b: 2 })).toBe("/api/x?a=1&b=2");
  });
});
