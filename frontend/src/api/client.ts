// The one way the UI talks to the gateway's /api: the session cookie rides along,
// replies are the {success, message, data} envelope, and a failure becomes an ApiError
// carrying the server's message (shown in a toast by the caller or `notifyError`).

export interface Envelope<T> {
  success: boolean;
  message: string;
  data: T;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

/** Called on a 401 so the app can forget the user and show the login page. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes("?") ? "&" : "?"}${qs}` : path;
}

/** Send a request and return the whole envelope; throws ApiError when success is false. */
export async function request<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; signal?: AbortSignal } = {},
): Promise<Envelope<T>> {
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    signal: options.signal,
  };
  if (options.body !== undefined) {
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), init);
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError("network", 0);
  }
  if (response.status === 401) onUnauthorized?.();
  let envelope: Envelope<T> | null = null;
  const text = await response.text();
  if (text) {
    try {
      envelope = JSON.parse(text) as Envelope<T>;
    } catch {
      envelope = null;
    }
  }
  if (envelope === null || typeof envelope !== "object" || !("success" in envelope)) {
    const message = response.status === 429 ? "rate_limited" : `HTTP ${response.status}`;
    throw new ApiError(message, response.status);
  }
  if (!envelope.success) throw new ApiError(envelope.message || `HTTP ${response.status}`, response.status);
  return envelope;
}

/** The `data` of a successful reply. */
export async function call<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  return (await request<T>(method, path, options)).data;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => call<T>("GET", path, { query, signal }),
  post: <T>(path: string, body?: unknown, query?: Query) => call<T>("POST", path, { body, query }),
  put: <T>(path: string, body?: unknown, query?: Query) => call<T>("PUT", path, { body, query }),
  del: <T>(path: string, query?: Query) => call<T>("DELETE", path, { query }),
};
