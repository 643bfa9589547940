// The two browser modes, and the silent refresh of JWT cookies shared by every tab.

import { ApiError, request } from "./api.js";

export const MODES = {
  session: {
    label: "session cookie",
    login: "/api/session/login/",
    logout: "/api/session/logout/",
    profile: "/api/session/profile/",
    logins: "/api/session/sessions/",
    loginsTitle: "My sessions",
  },
  "jwt-cookie": {
    label: "JWT cookies",
    login: "/api/jwt/cookie/login/",
    logout: "/api/jwt/cookie/logout/",
    profile: "/api/profile/",
    logins: "/api/jwt/devices/",
    loginsTitle: "My devices",
  },
};

const MODE_KEY = "dualauth.mode";
// When the access cookie expires, in ms since the epoch, and its lifetime: times, never a token.
const EXPIRY_KEY = "dualauth.access-expiry";
const REFRESH_PATH = "/api/jwt/cookie/refresh/";
const channel = "BroadcastChannel" in window ? new BroadcastChannel("dualauth") : null;

let timer = 0;

/** Dispatches "expired" (detail: the error; the login ended), "scheduled" (detail: the date of the
 * next refresh) and "broadcast" (detail: what another tab posted). */
export const events = new EventTarget();

const emit = (type, detail) => events.dispatchEvent(new CustomEvent(type, { detail }));

/** The mode picked last, in any tab. */
export function currentMode() {
  const stored = localStorage.getItem(MODE_KEY);
  return stored in MODES ? stored : "session";
}

export function setMode(value) {
  localStorage.setItem(MODE_KEY, value);
}

function expiry() {
  try {
    return JSON.parse(localStorage.getItem(EXPIRY_KEY));
  } catch {
    return null;
  }
}

function expiryStore(lifetime) {
  localStorage.setItem(EXPIRY_KEY, JSON.stringify({ at: Date.now() + lifetime * 1000, lifetime }));
}

// Refresh a quarter of the lifetime early, and never more than 30 s early.
const refreshDue = ({ at, lifetime }) => at - Math.min(30, lifetime / 4) * 1000;

/** Run `task` while no other tab of this origin runs it. */
function exclusively(task) {
  if (navigator.locks) return navigator.locks.request("dualauth-refresh", task);
  // Without Web Locks, tabs hear each other's "refreshed" on the BroadcastChannel and push their
  // timers back, so one tab refreshes; a rare collision gets the same successor (the grace window).
  return task();
}

/** Rotate both JWT cookies once, unless another tab did while this one waited for its turn. */
export async function refresh() {
  const seen = localStorage.getItem(EXPIRY_KEY);
  await exclusively(async () => {
    if (localStorage.getItem(EXPIRY_KEY) !== seen) return;
    const { expires_in: expiresIn } = await request("POST", REFRESH_PATH);
    expiryStore(expiresIn);
    channel?.postMessage("refreshed");
  });
  schedule();
}

function schedule() {
  clearTimeout(timer);
  const current = expiry();
  if (currentMode() !== "jwt-cookie" || !current) return;
  const due = refreshDue(current);
  emit("scheduled", new Date(due));
  timer = setTimeout(async () => {
    const latest = expiry();
    if (latest && refreshDue(latest) > Date.now()) return schedule();
    try {
      await refresh();
    } catch (error) {
      emit("expired", error);
    }
  }, Math.max(0, due - Date.now()));
}

/** Forget this login locally and tell the other tabs. */
export function signedOut() {
  clearTimeout(timer);
  localStorage.removeItem(EXPIRY_KEY);
  channel?.postMessage("signed-out");
}

/** An authenticated call; in JWT-cookie mode a 401 gets one refresh and one retry. */
export async function call(method, path, body) {
  try {
    return await request(method, path, body);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || currentMode() !== "jwt-cookie") throw error;
    await refresh();
    return request(method, path, body);
  }
}

/** Log in through the current mode; resolves to the profile. */
export async function logIn({ username, password, remember }) {
  const mode = currentMode();
  const body = mode === "session" ? { username, password, remember } : { username, password };
  const profile = await request("POST", MODES[mode].login, body);
  if (mode === "jwt-cookie") {
    // The page shell carries the configured access lifetime, so login needs no extra refresh.
    expiryStore(Number(document.body.dataset.accessLifetime) || 60);
    schedule();
  }
  channel?.postMessage("signed-in");
  return profile;
}

/** The profile of an existing login, or null when this browser is not logged in. */
export async function resume() {
  try {
    const current = expiry();
    const mode = currentMode();
    if (mode === "jwt-cookie" && (!current || current.at <= Date.now())) await refresh();
    const profile = await call("GET", MODES[mode].profile);
    schedule();
    return profile;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      clearTimeout(timer);
      localStorage.removeItem(EXPIRY_KEY);
      return null;
    }
    throw error;
  }
}

/** End this login (`everywhere`: every login of the account). */
export async function logOut({ everywhere = false } = {}) {
  try {
    if (everywhere) await call("POST", "/api/logout-all/");
    else await request("POST", MODES[currentMode()].logout);
  } finally {
    signedOut();
  }
}

channel?.addEventListener("message", ({ data }) => {
  if (data === "refreshed") schedule();
  else if (data === "signed-out") clearTimeout(timer);
  emit("broadcast", data);
});
