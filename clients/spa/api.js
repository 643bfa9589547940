// fetch() for the contract: JSON both ways, CSRF on unsafe methods, one activity entry per call.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, body, headers) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? "unknown";
    this.errors = body?.errors ?? {};
    this.retryAfter = Number(headers.get("Retry-After")) || 0;
  }
}

/** Dispatches a "call" event after every call, its detail `{method, path, status, authMode}`. */
export const activity = new EventTarget();

const announce = (detail) => activity.dispatchEvent(new CustomEvent("call", { detail }));

function cookie(name) {
  const pair = document.cookie.split("; ").find((item) => item.startsWith(`${name}=`));
  return pair ? decodeURIComponent(pair.slice(name.length + 1)) : "";
}

/** The CSRF token, fetched once per browser; read afresh each time since login rotates it. */
async function csrfToken() {
  if (!cookie("csrftoken")) await request("GET", "/api/session/csrf/");
  return cookie("csrftoken");
}

/** Send one request; resolve to the parsed body (null for 204), reject with an ApiError. */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) headers["X-CSRFToken"] = await csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    announce({ method, path, status: "offline", authMode: "" });
    throw new ApiError(0, { detail: "The server cannot be reached. Check your connection.", code: "offline" }, new Headers());
  }
  const authMode = response.headers.get("Auth-Mode") ?? "";
  announce({ method, path, status: response.status, authMode });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data, response.headers);
  return data;
}
