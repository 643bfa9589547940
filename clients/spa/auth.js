// The two browser modes, and the silent refresh of JWT cookies shared by every tab.

import { ApiError, request } from "./api.js";
import * as webauthn from "./webauthn.js";

export const MODES = {
  session: {
    label: "session cookie",
    login: "/api/session/login/",
    passkeyLogin: "/api/session/login/passkey/",
    logout: "/api/session/logout/",
    profile: "/api/session/profile/",
    logins: "/api/session/sessions/",
    loginsTitle: "My sessions",
  },
  "jwt-cookie": {
    label: "JWT cookies",
    login: "/api/jwt/cookie/login/",
    passkeyLogin: "/api/jwt/cookie/login/passkey/",
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
const SECOND_FACTOR_PATH = "/api/account/mfa/authenticate/";
const PASSKEY_OPTIONS_PATH = "/api/account/mfa/passkey-login/options/";
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

/** The 401 of a login that is valid but not recent or strong enough (RFC 9470): no refresh helps. */
const STEP_UP = "insufficient_user_authentication";

let stepUp = null;

/** Have `handler` re-authenticate this login when an endpoint asks for a more recent or a stronger
 * one (RFC 9470's challenge, `max_age` or `acr_values`, in every mode): called with the error, it
 * resolves once the login is re-authenticated, or rejects to give the call up. */
export function onStepUp(handler) {
  stepUp = handler;
}

/** An authenticated call. The step-up challenge gets a re-authentication and one retry; in
 * JWT-cookie mode any other 401 gets one refresh and one retry. */
export async function call(method, path, body) {
  try {
    return await request(method, path, body);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    if (error.code === STEP_UP) {
      if (!stepUp) throw error;
      await stepUp(error);
    } else if (currentMode() === "jwt-cookie") {
      await refresh();
    } else {
      throw error;
    }
    return request(method, path, body);
  }
}

/** Start keeping a new login of `mode`: its refresh timer, and the other tabs told. */
function signedIn(mode) {
  if (mode === "jwt-cookie") {
    // The page shell carries the configured access lifetime, so login needs no extra refresh.
    expiryStore(Number(document.body.dataset.accessLifetime) || 60);
    schedule();
  }
  channel?.postMessage("signed-in");
}

/** Log in through the current mode; resolves to `{profile}`, or to `{pending}` (the server's 202
 * `mfa_required`, no login yet, and the mode it began in) when the account asks for a second factor. */
export async function logIn({ username, password, remember }) {
  const mode = currentMode();
  const body = mode === "session" ? { username, password, remember } : { username, password };
  const answer = await request("POST", MODES[mode].login, body);
  if (answer?.code === "mfa_required") return { pending: { ...answer, mode } };
  signedIn(mode);
  return { profile: answer };
}

/** Finish a login that waits for its second factor: `proof` is `{code}` or `{webauthn}`.
 * The server answers as the login it began at would have, so this resolves to the profile. */
export async function secondFactor(pending, proof) {
  const body = { mfa_token: pending.mfa_token, ...proof };
  const profile = await request("POST", SECOND_FACTOR_PATH, body);
  // Another tab may have picked another mode meanwhile: this login is of the one it began in.
  setMode(pending.mode);
  signedIn(pending.mode);
  return profile;
}

/** Log in through the current mode with a passkey alone (discoverable); resolves to the profile. */
export async function passkeyLogIn({ remember }) {
  const mode = currentMode();
  const { challenge_token: challengeToken, options } = await request("POST", PASSKEY_OPTIONS_PATH);
  const credential = await webauthn.get(options);
  const body = { challenge_token: challengeToken, credential };
  if (mode === "session") body.remember = remember;
  const profile = await request("POST", MODES[mode].passkeyLogin, body);
  signedIn(mode);
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
