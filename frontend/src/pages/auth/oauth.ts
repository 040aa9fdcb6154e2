// Third-party sign-in (spec 7.7): ask the server for a state, then leave for the
// provider's authorize page; it comes back to /oauth/<provider>.
import { api } from "../../api/client";
import type { Status } from "../../api/types";

export type Provider = "github" | "lark" | "oidc";

export function authorizeUrl(provider: Provider, status: Status, state: string, origin: string): string {
  const redirect = `${origin}/oauth/${provider}`;
  if (provider === "github") {
    const q = new URLSearchParams({ client_id: status.github_client_id, state, scope: "user:email" });
    return `https://github.com/login/oauth/authorize?${q.toString()}`;
  }
  if (provider === "lark") {
    const q = new URLSearchParams({ redirect_uri: redirect, app_id: status.lark_client_id, state });
    return `https://open.feishu.cn/open-apis/authen/v1/index?${q.toString()}`;
  }
  const q = new URLSearchParams({
    client_id: status.oidc_client_id,
    redirect_uri: redirect,
    response_type: "code",
    scope: "openid profile email",
    state,
  });
  const endpoint = status.oidc_authorization_endpoint;
  return `${endpoint}${endpoint.includes("?") ? "&" : "?"}${q.toString()}`;
}

export async function startOAuth(provider: Provider, status: Status): Promise<void> {
  const state = await api.get<string>("/api/oauth/state");
  window.location.assign(authorizeUrl(provider, status, state, window.location.origin));
}

/** Which providers the login page offers. */
export function providers(status: Status | null): Provider[] {
  if (!status) return [];
  const list: Provider[] = [];
  if (status.github_oauth) list.push("github");
  if (status.lark_client_id) list.push("lark");
  if (status.oidc && status.oidc_authorization_endpoint) list.push("oidc");
  return list;
}
