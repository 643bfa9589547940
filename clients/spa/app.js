// The dualauth SPA: sign in by session or JWT cookies, edit the profile, manage logins, and
// the account around them: sign-up, verification, password reset, email change, deletion, and
// the second factors: an authenticator app, recovery codes and passkeys.

import { activity, request } from "./api.js";
import * as auth from "./auth.js";
import { $, agentName, ago, countdown, dateShow, el, errorsClear, errorsShow } from "./ui.js";
import * as webauthn from "./webauthn.js";

// First of all, before any request can carry it in a Referer: a mailed key leaves the address bar.
const link = linkTake();

const LOG_LENGTH = 40;
const VIEWS = [
  "login",
  "mfa",
  "signup",
  "mail",
  "resend",
  "forgot",
  "reset",
  "verify",
  "undo",
  "undone",
  "app",
];
// Thrown when the user cancels a prompt: nothing was done, and nothing failed.
const CANCELLED = Symbol("cancelled");
let stopCountdown = () => {};
// The keys of mailed links: kept in memory only, never in storage or the address bar.
let resetKey = "";
let verifyKey = "";
let undoKey = "";
// The address a "check your mail" view is about, and what it asked for ("verify" or "reset").
let mailed = { purpose: "verify", email: "" };
// The last sign-up of this page, to fill in the address when it asks for a new verification mail.
let signedUp = { username: "", email: "" };
let reauthDone = null;
let reauthOutcome = CANCELLED;
// A login that waits for its second factor (the server's 202), in memory only; and the
// recovery codes on show, until the user says they are saved.
let pending = null;
let recoveryCodes = [];
// The passkey being renamed.
let renaming = null;

const mode = () => auth.MODES[auth.currentMode()];
const say = (message) => ($("status").textContent = message);

activity.addEventListener("call", ({ detail: { method, path, status, authMode } }) => {
  const item = el("li", "log-entry");
  const statusClass = typeof status === "number" ? `http-${String(status)[0]}xx` : "http-offline";
  // The spaces between the parts are for screen readers; the grid ignores them.
  item.append(
    el("time", "log-time", new Date().toLocaleTimeString()),
    " ",
    el("code", "log-call", `${method} ${path}`),
    " ",
    el("span", `log-status ${statusClass}`, String(status)),
    " ",
    el("span", `badge mode-${authMode || "none"}`, authMode || "no credential"),
  );
  $("activity").prepend(item);
  while ($("activity").children.length > LOG_LENGTH) $("activity").lastChild.remove();
});

async function busy(form, task) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await task();
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

/** The `action` and `key` of a mailed link (`#action=…&key=…`); both leave the address bar (and
 * its history) at once. A key comes in the fragment only, which browsers never send: a key in the
 * query string went to the server, and every proxy's log on the way, so it is dropped unused. */
function linkTake() {
  const { pathname, search, hash } = window.location;
  const fragment = new URLSearchParams(hash.slice(1));
  const query = new URLSearchParams(search);
  const linked = fragment.has("action") || fragment.has("key");
  const taken = {
    // A link without a key (`?action=signup`) may still name its page in the query.
    action: (linked ? fragment.get("action") : query.get("action")) ?? "",
    key: linked ? (fragment.get("key") ?? "") : "",
    // A provider sign-in's answer: its error code, or its second step.
    code: linked ? (fragment.get("code") ?? "") : "",
    mfaToken: linked ? (fragment.get("mfa_token") ?? "") : "",
    methods: linked ? (fragment.get("methods") ?? "") : "",
  };
  if (linked || query.has("action") || query.has("key")) {
    query.delete("action");
    query.delete("key");
    const rest = query.toString();
    const url = `${pathname}${rest ? `?${rest}` : ""}${linked ? "" : hash}`;
    window.history.replaceState(window.history.state, "", url);
  }
  return taken;
}

/** Show one view, hide the others. */
function show(name) {
  for (const view of VIEWS) $(`${view}-view`).hidden = view !== name;
  if (name !== "app") $("whoami").hidden = true;
}

/** Open a signed-out view and put the focus on its first field (or its heading). */
function viewOpen(name) {
  show(name);
  const view = $(`${name}-view`);
  const field = view.querySelector("input:not([type=radio], [type=checkbox], [hidden])");
  (field ?? view.querySelector("h1")).focus();
}

function showLogin(message = "") {
  pending = null;
  show("login");
  document.querySelector(`input[name=mode][value="${auth.currentMode()}"]`).checked = true;
  rememberToggle();
  $("login-resend").hidden = true;
  $("login-error").textContent = message;
}

/** Tell people why a request failed: a throttled one says when to try again. */
function problem(prefix, error) {
  if (error.status !== 429) {
    errorsShow(prefix, error);
    return;
  }
  const minutes = Math.max(1, Math.ceil(error.retryAfter / 60));
  errorsClear(prefix);
  $(`${prefix}-error`).textContent =
    `Too many requests. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

/** A refused code is its field's fault: the server's message goes under the `code` field. */
function codeError(error) {
  if (error.code !== "mfa_code_not_valid" || Object.keys(error.errors).length) return error;
  return { status: error.status, code: error.code, message: error.message, errors: { code: [error.message] } };
}

/** A message in a form's alert, with nothing highlighted. */
function alertShow(prefix, message) {
  errorsClear(prefix);
  $(`${prefix}-error`).textContent = message;
}

function showApp(profile) {
  show("app");
  const jwt = auth.currentMode() === "jwt-cookie";
  $("logins-title").textContent = mode().loginsTitle;
  $("logins-note").textContent = jwt
    ? "Tokens are HttpOnly cookies: this page can never read them."
    : "The session cookie is HttpOnly: this page can never read it.";
  $("refresh-note").hidden = !jwt;
  codesHide();
  totpPanelClose();
  profileShow(profile);
  loginsLoad();
  accountLoad();
  passkeysLoad();
  providersLoad().then(linkedLoad);
}

/** The login is over (revoked, expired, signed out elsewhere): back to the sign-in form. */
function loginEnded(message) {
  auth.signedOut();
  showLogin(message);
  $("login-username").focus();
}

function failed(prefix, error) {
  if (error.status === 401) loginEnded("Your sign-in has ended. Please sign in again.");
  else problem(prefix, error);
}

function counterUpdate(field) {
  const counter = $(`profile-${field}-count`);
  const length = $(`profile-${field}`).value.length;
  const max = Number(counter.dataset.max);
  counter.textContent = `${length} / ${max} characters`;
  counter.classList.toggle("over", length > max);
}

function profileShow(profile) {
  $("profile-username").textContent = profile.username;
  $("password-username").defaultValue = profile.username;
  $("profile-email").textContent = profile.email || "—";
  $("profile-joined").textContent = dateShow(profile.date_joined);
  for (const field of ["display_name", "bio"]) {
    $(`profile-${field}`).value = profile[field];
    counterUpdate(field);
  }
  const whoami = $("whoami");
  whoami.replaceChildren(
    "Signed in as ",
    el("strong", "", profile.display_name || profile.username),
    " · ",
    el("span", `badge mode-${auth.currentMode()}`, mode().label),
  );
  whoami.hidden = false;
}

function loginItem(login) {
  const item = el("li", login.current ? "device current" : "device");
  const name = el("p", "device-name", agentName(login.user_agent));
  name.title = login.user_agent;
  if (login.current) name.append(" ", el("span", "badge badge-current", "This browser"));
  const seen = login.last_seen_at ?? login.last_used_at;
  const details = [login.ip || "unknown address", `signed in ${dateShow(login.created_at)}`];
  if (seen) details.push(`active ${ago(seen)}`);
  const text = el("div", "device-text");
  text.append(name, el("p", "device-meta", details.join(" · ")));
  item.append(text);
  if (!login.current) {
    const button = el("button", "danger small", "Revoke");
    button.type = "button";
    button.setAttribute("aria-label", `Revoke ${agentName(login.user_agent)}, ${details.join(", ")}`);
    button.addEventListener("click", () => loginRevoke(login, button));
    item.append(button);
  }
  return item;
}

async function loginsLoad() {
  errorsClear("logins");
  try {
    const logins = await auth.call("GET", mode().logins);
    $("logins").replaceChildren(...logins.map(loginItem));
  } catch (error) {
    failed("logins", error);
  }
}

async function loginRevoke(login, button) {
  button.disabled = true;
  try {
    await auth.call("DELETE", `${mode().logins}${login.id}/`);
    say(`Revoked ${agentName(login.user_agent)}: it is signed out.`);
    await loginsLoad();
    $("logins-reload").focus();
  } catch (error) {
    button.disabled = false;
    failed("logins", error);
  }
}

function rememberToggle() {
  $("remember-field").hidden = document.querySelector("input[name=mode]:checked").value !== "session";
}

function throttled(seconds) {
  const minutes = Math.ceil(seconds / 60);
  $("login-error").textContent =
    `Too many failed sign-in attempts. Sign-in is blocked for ${minutes} minute${minutes === 1 ? "" : "s"}.`;
  stopCountdown = countdown($("login-countdown"), seconds, {
    prefix: "Try again in",
    onDone: () => {
      stopCountdown();
      $("login-error").textContent = "";
      say("You can try signing in again.");
    },
  });
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  auth.setMode(data.get("mode"));
  errorsClear("login");
  $("login-resend").hidden = true;
  stopCountdown();
  busy(form, async () => {
    try {
      const answer = await auth.logIn({
        username: data.get("username"),
        password: data.get("password"),
        remember: data.get("remember") === "on",
      });
      form.elements.password.value = "";
      if (answer.pending) mfaOpen(answer.pending);
      else enter(answer.profile);
    } catch (error) {
      loginProblem(error);
    }
  });
});

/** Show the app to a browser that has just signed in. */
function enter(profile, how = "") {
  showApp(profile);
  say(`Signed in${how} with ${mode().label}.`);
  $("main").focus();
}

function loginProblem(error) {
  if (error.status === 429) throttled(error.retryAfter);
  else errorsShow("login", error);
  $("login-resend").hidden = error.code !== "email_not_verified";
}

$("login-passkey-area").hidden = !webauthn.supported();

$("login-passkey").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const data = new FormData($("login-form"));
  auth.setMode(data.get("mode"));
  errorsClear("login");
  $("login-resend").hidden = true;
  stopCountdown();
  button.disabled = true;
  try {
    enter(await auth.passkeyLogIn({ remember: data.get("remember") === "on" }), " by passkey");
  } catch (error) {
    loginProblem(error);
  } finally {
    button.disabled = false;
  }
});

// The second step of a sign-in: a code (TOTP or recovery), or a passkey.

const CODE_KINDS = {
  totp: {
    label: "Code from your authenticator app",
    hint: "The 6-digit code the app shows now.",
    inputMode: "numeric",
    other: "Use a recovery code instead",
  },
  recovery: {
    label: "Recovery code",
    hint: "One of the recovery codes you saved. Each works once.",
    inputMode: "text",
    other: "Use the authenticator app instead",
  },
};
let codeKind = "totp";

function codeKindSet(kind) {
  codeKind = kind;
  const { label, hint, inputMode, other } = CODE_KINDS[kind];
  $("mfa-code-label").textContent = label;
  $("mfa-code-hint").textContent = hint;
  $("mfa-code").inputMode = inputMode;
  $("mfa-switch").textContent = other;
}

/** The password was right and the account has a second factor: ask for it. */
function mfaOpen(answer) {
  pending = answer;
  const methods = new Set(answer.methods);
  const codes = methods.has("totp") || methods.has("recovery_code");
  const passkey = methods.has("webauthn") && Boolean(answer.webauthn);
  codeKindSet(methods.has("totp") ? "totp" : "recovery");
  $("mfa-form").reset();
  $("mfa-form").hidden = !codes;
  $("mfa-switch").hidden = !(methods.has("totp") && methods.has("recovery_code"));
  $("mfa-passkey").hidden = !passkey;
  $("mfa-passkey-divider").hidden = !codes;
  const ways = [];
  if (methods.has("totp")) ways.push("enter the code from your authenticator app");
  else if (methods.has("recovery_code")) ways.push("enter one of your recovery codes");
  if (passkey) ways.push("use a passkey");
  $("mfa-lead").textContent = `Your password is right. To finish signing in, ${ways.join(", or ")}.`;
  errorsClear("mfa");
  show("mfa");
  (codes ? $("mfa-code") : $("mfa-passkey-button")).focus();
}

/** Send the second factor; signed in, or told why not. */
async function mfaFinish(proof) {
  try {
    const profile = await auth.secondFactor(pending, proof);
    $("mfa-form").reset();
    pending = null;
    enter(profile);
  } catch (error) {
    if (error.code === "mfa_token_not_valid") {
      showLogin("This sign-in took too long or had too many wrong codes. Please sign in again.");
      $("login-username").focus();
    } else if (error.status === 429) {
      problem("mfa", error);
    } else if ("webauthn" in proof) {
      errorsShow("mfa", error);
    } else {
      errorsShow("mfa", codeError(error));
      // Focused already, when the code was refused: typing replaces it.
      $("mfa-code").select();
    }
  }
}

$("mfa-switch").addEventListener("click", () => {
  codeKindSet(codeKind === "totp" ? "recovery" : "totp");
  $("mfa-code").value = "";
  errorsClear("mfa");
  $("mfa-code").focus();
});

$("mfa-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  errorsClear("mfa");
  busy(form, () => mfaFinish({ code: form.elements.code.value.trim() }));
});

$("mfa-passkey-button").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  errorsClear("mfa");
  try {
    const assertion = await webauthn.get(pending.webauthn);
    await mfaFinish({ webauthn: assertion });
  } catch (error) {
    errorsShow("mfa", error);
  } finally {
    button.disabled = false;
  }
});

$("login-resend").addEventListener("click", () => {
  const username = $("login-username").value;
  const known = username === signedUp.username ? signedUp.email : "";
  resendOpen(known || (username.includes("@") ? username : ""));
});

for (const radio of document.querySelectorAll("input[name=mode]")) {
  radio.addEventListener("change", rememberToggle);
}

for (const field of ["display_name", "bio"]) {
  $(`profile-${field}`).addEventListener("input", () => counterUpdate(field));
}

$("profile-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  errorsClear("profile");
  busy(form, async () => {
    try {
      const body = { display_name: form.elements.display_name.value, bio: form.elements.bio.value };
      profileShow(await auth.call("PATCH", mode().profile, body));
      say("Profile saved.");
    } catch (error) {
      failed("profile", error);
    }
  });
});

$("profile-reload").addEventListener("click", async () => {
  errorsClear("profile");
  try {
    profileShow(await auth.call("GET", mode().profile));
    say("Profile reloaded.");
  } catch (error) {
    failed("profile", error);
  }
});

$("logins-reload").addEventListener("click", loginsLoad);

$("password-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  errorsClear("password");
  busy(form, async () => {
    try {
      const { old_password, new_password } = form.elements;
      await auth.call("POST", "/api/password/", {
        old_password: old_password.value,
        new_password: new_password.value,
      });
      form.reset();
      say("Password changed. Every other session and device was signed out.");
      await loginsLoad();
    } catch (error) {
      failed("password", error);
    }
  });
});

async function signOut(everywhere) {
  try {
    await auth.logOut({ everywhere });
  } catch (error) {
    if (error.status !== 401) {
      say(error.message);
      return;
    }
  }
  showLogin();
  say(everywhere ? "Signed out everywhere." : "Signed out.");
  $("login-username").focus();
}

$("logout").addEventListener("click", () => signOut(false));
$("logout-all").addEventListener("click", () => signOut(true));

auth.events.addEventListener("expired", ({ detail: error }) => {
  if (error.status === 401) loginEnded("Your sign-in has ended. Please sign in again.");
  else say(`Could not refresh the sign-in: ${error.message}`);
});

auth.events.addEventListener("scheduled", ({ detail: due }) => {
  $("refresh-note").textContent = `Next silent token refresh at ${due.toLocaleTimeString()}.`;
});

auth.events.addEventListener("broadcast", ({ detail: message }) => {
  if (message === "signed-out" && !$("app-view").hidden) showLogin("You signed out in another tab.");
  if (message === "signed-in" && $("app-view").hidden) boot();
});

// Signed out: sign-up, verification, a forgotten password.

for (const anchor of document.querySelectorAll("a[data-view]")) {
  anchor.addEventListener("click", (event) => {
    event.preventDefault();
    if (anchor.dataset.view === "login") {
      showLogin();
      $("login-username").focus();
    } else {
      viewOpen(anchor.dataset.view);
    }
  });
}

/** "Check your mail": where it went, and what its link is for. */
function mailOpen(purpose, email) {
  mailed = { purpose, email };
  $("mail-address").textContent = email;
  $("mail-purpose").textContent = purpose === "reset" ? "set a new password" : "verify your address";
  errorsClear("mail");
  viewOpen("mail");
}

/** The form that asks for a new verification mail, with `message` in its alert. */
function resendOpen(email, message = "") {
  $("resend-email").value = email;
  alertShow("resend", message);
  viewOpen("resend");
}

$("signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const { username, email, password } = form.elements;
  errorsClear("signup");
  busy(form, async () => {
    try {
      const body = { username: username.value, email: email.value, password: password.value };
      const answer = await request("POST", "/api/account/signup/", body);
      signedUp = { username: body.username, email: body.email };
      form.reset();
      if (answer.code === "signup_complete") {
        showLogin();
        $("login-username").value = body.username;
        say(answer.detail);
        $("login-password").focus();
      } else {
        mailOpen("verify", body.email);
      }
    } catch (error) {
      problem("signup", error);
    }
  });
});

$("mail-resend").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const { purpose, email } = mailed;
  const path = purpose === "reset" ? "/api/account/password/reset/" : "/api/account/email/resend/";
  button.disabled = true;
  errorsClear("mail");
  try {
    await request("POST", path, { email });
    say(`We sent another mail to ${email}.`);
  } catch (error) {
    problem("mail", error);
  } finally {
    button.disabled = false;
  }
});

$("resend-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.elements.email.value;
  errorsClear("resend");
  busy(form, async () => {
    try {
      await request("POST", "/api/account/email/resend/", { email });
      mailOpen("verify", email);
    } catch (error) {
      problem("resend", error);
    }
  });
});

$("forgot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.elements.email.value;
  errorsClear("forgot");
  busy(form, async () => {
    try {
      await request("POST", "/api/account/password/reset/", { email });
      form.reset();
      mailOpen("reset", email);
    } catch (error) {
      problem("forgot", error);
    }
  });
});

const RESEND_ASK = "Enter your address and we mail you a new link.";

/** The page of a verification link: it asks for the password of the account signing up. */
async function verifyOpen(key) {
  verifyKey = key;
  if (!key) {
    await boot(() => resendOpen("", `This link is incomplete. ${RESEND_ASK}`));
    return;
  }
  $("verify-form").reset();
  errorsClear("verify");
  viewOpen("verify");
}

/** The key of a verification link was refused: ask for a new link. */
async function verifyRefused(error) {
  const profile = await boot(() => resendOpen("", `${error.message} ${RESEND_ASK}`));
  if (profile) alertShow("email", `${error.message} Ask for a new link below.`);
}

$("verify-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const password = form.elements.password.value;
  errorsClear("verify");
  busy(form, async () => {
    try {
      // An email change's key needs no password: an empty field sends none.
      const body = password ? { key: verifyKey, password } : { key: verifyKey };
      const { email } = await request("POST", "/api/account/email/verify/", body);
      verifyKey = "";
      form.reset();
      const profile = await boot(() => {
        showLogin();
        $("login-username").focus();
      });
      // Whoever holds a key may use it: it may be another account's than the one signed in here.
      if (!profile) say(`Your address ${email} is verified. You can sign in now.`);
      else if (profile.email === email) say(`Your account's address is now ${email}.`);
      else say(`The address ${email} is verified.`);
    } catch (error) {
      form.elements.password.value = "";
      if (error.code === "key_not_valid") {
        verifyKey = "";
        await verifyRefused(error);
      } else {
        problem("verify", error);
      }
    }
  });
});

// "This wasn't me": the link of a mail that told of a change to how the account signs in.

// What each change the server names was, for its owner.
const CHANGES = {
  passkey_added: "a passkey was added",
  passkey_removed: "a passkey was removed",
  totp_enabled: "an authenticator app was set up",
  totp_disabled: "the authenticator app was turned off",
  recovery_codes_generated: "new recovery codes were made",
  recovery_code_used: "a recovery code was used to sign in",
  email_changed: "the address was changed",
  password_changed: "the password was changed",
  password_reset: "the password was reset",
  identity_linked: "an external sign-in was linked",
};
const RESET_ASK =
  "If someone else may be signed in to your account, set a new password: every login ends with it.";

function undoOpen(key) {
  undoKey = key;
  if (!key) {
    forgotOpen(`This link is incomplete. ${RESET_ASK}`);
    return;
  }
  errorsClear("undo");
  show("undo");
  $("undo-title").focus();
}

$("undo-keep").addEventListener("click", (event) => {
  event.preventDefault();
  undoKey = "";
  say("Nothing was undone.");
  boot();
});

$("undo-confirm").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  errorsClear("undo");
  try {
    const { undone } = await request("POST", "/api/account/undo/", { key: undoKey });
    undoKey = "";
    // Every login of the account has ended, this browser's too, if it had one.
    auth.signedOut();
    const what = CHANGES[undone];
    $("undone-what").textContent = what
      ? `Undone: ${what}.`
      : "The change the mail told you about is undone.";
    show("undone");
    $("undone-title").focus();
    say("The change is undone and every browser and device was signed out. Check your mail.");
  } catch (error) {
    if (error.code === "key_not_valid") {
      undoKey = "";
      forgotOpen(`${error.message} ${RESET_ASK}`);
    } else {
      problem("undo", error);
    }
  } finally {
    button.disabled = false;
  }
});

function resetOpen(key) {
  resetKey = key;
  if (key) {
    errorsClear("reset");
    viewOpen("reset");
  } else {
    forgotOpen("This link is incomplete. Ask for a new one below.");
  }
}

function forgotOpen(message) {
  alertShow("forgot", message);
  viewOpen("forgot");
}

$("reset-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  errorsClear("reset");
  busy(form, async () => {
    try {
      await request("POST", "/api/account/password/reset/confirm/", {
        key: resetKey,
        new_password: form.elements.new_password.value,
      });
      resetKey = "";
      form.reset();
      // Every login of the account has ended, this browser's too, if it had one.
      auth.signedOut();
      showLogin();
      say("Your new password is set, and every browser and device was signed out. Sign in with it.");
      $("login-username").focus();
    } catch (error) {
      if (error.code === "key_not_valid") {
        resetKey = "";
        form.reset();
        forgotOpen(`${error.message} Ask for a new one below.`);
      } else {
        problem("reset", error);
      }
    }
  });
});

// Signed in: the account, and the changes that need a fresh sign-in.

function accountShow(account) {
  $("account-email").textContent = account.email || "—";
  $("account-verified").textContent = account.email_verified
    ? "Yes"
    : "Not yet: follow the link we mailed you";
  $("reauth-username").defaultValue = account.username;
  $("delete-username").textContent = account.username;
  factorsShow(account.mfa);
}

async function accountLoad() {
  errorsClear("account");
  try {
    accountShow(await auth.call("GET", "/api/account/"));
  } catch (error) {
    failed("account", error);
  }
}

/** Ask for the password again; resolves once this login is fresh, rejects with CANCELLED. */
function reauthenticate() {
  return new Promise((resolve, reject) => {
    reauthDone = { resolve, reject };
    reauthOutcome = CANCELLED;
    $("reauth-form").reset();
    errorsClear("reauth");
    $("reauth-dialog").showModal();
    $("reauth-password").focus();
  });
}

$("reauth-dialog").addEventListener("close", () => {
  const done = reauthDone;
  reauthDone = null;
  if (reauthOutcome === true) done?.resolve();
  else done?.reject(reauthOutcome);
});

$("reauth-cancel").addEventListener("click", () => $("reauth-dialog").close());

$("reauth-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  errorsClear("reauth");
  busy(form, async () => {
    try {
      await auth.call("POST", "/api/account/reauthenticate/", { password: form.elements.password.value });
      reauthOutcome = true;
      $("reauth-dialog").close();
    } catch (error) {
      if (error.status === 401) {
        reauthOutcome = error;
        $("reauth-dialog").close();
      } else {
        problem("reauth", error);
      }
    } finally {
      form.elements.password.value = "";
    }
  });
});

// Any call answered by the step-up challenge (RFC 9470) asks for the password, then is retried.
auth.onStepUp(reauthenticate);

/** Run `action`; should the server want a fresh sign-in (a sensitive action's 403), ask for the
 * password and run it once more. */
async function sensitive(action) {
  try {
    return await action();
  } catch (error) {
    if (error.code !== "reauthentication_required") throw error;
    await reauthenticate();
    return action();
  }
}

$("email-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.elements.email.value;
  errorsClear("email");
  busy(form, async () => {
    try {
      await sensitive(() => auth.call("POST", "/api/account/email/", { email }));
      form.reset();
      say(`Check your new address: follow the link we sent to ${email} to make it your account's.`);
    } catch (error) {
      if (error === CANCELLED) say("Your address was not changed.");
      else failed("email", error);
    }
  });
});

$("account-delete").addEventListener("click", () => $("delete-dialog").showModal());
$("delete-cancel").addEventListener("click", () => $("delete-dialog").close());

$("delete-confirm").addEventListener("click", async () => {
  $("delete-dialog").close();
  const button = $("account-delete");
  button.disabled = true;
  errorsClear("account");
  try {
    await sensitive(() => auth.call("DELETE", "/api/account/"));
    auth.signedOut();
    showLogin();
    say("Your account is deleted, and every browser and device was signed out.");
    $("login-username").focus();
  } catch (error) {
    if (error === CANCELLED) say("Your account was not deleted.");
    else failed("account", error);
  } finally {
    button.disabled = false;
  }
});

// Second factors: an authenticator app (TOTP), recovery codes, passkeys.

const MFA = "/api/account/mfa/";

/** The account's factors, as `GET /api/account/` tells them. */
function factorsShow({ totp, passkeys, recovery_codes_left: left }) {
  const setupOpen = !$("totp-panel").hidden;
  $("totp-state").textContent = totp
    ? "On: signing in asks for a code from your app."
    : "Off: no authenticator app is set up.";
  $("totp-setup").hidden = totp || setupOpen;
  $("totp-disable").hidden = !totp;
  if (totp) totpPanelClose();
  $("codes-section").hidden = !(totp || passkeys > 0);
  $("codes-left").textContent =
    left === 0
      ? "You have no unused recovery codes: make some, so that losing your factor does not lock you out."
      : `${left} unused recovery code${left === 1 ? "" : "s"} left.`;
}

function totpPanelClose() {
  $("totp-panel").hidden = true;
  $("totp-form").reset();
  $("totp-qr").removeAttribute("src");
  $("totp-secret").textContent = "";
  errorsClear("totp");
}

$("totp-setup").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  errorsClear("totp-off");
  try {
    const totp = await auth.call("GET", `${MFA}totp/`);
    if (totp.enabled) {
      await accountLoad();
      return;
    }
    // An SVG in an <img> is an image only: it runs no script and reaches no page state.
    $("totp-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(totp.qr_svg)}`;
    // In groups of four, as apps show it; they ignore the spaces.
    $("totp-secret").textContent = totp.secret.match(/.{1,4}/g).join(" ");
    $("totp-panel").hidden = false;
    button.hidden = true;
    $("totp-panel-title").focus();
  } catch (error) {
    failed("totp-off", error);
  } finally {
    button.disabled = false;
  }
});

$("totp-cancel").addEventListener("click", () => {
  totpPanelClose();
  $("totp-setup").hidden = false;
  $("totp-setup").focus();
});

$("totp-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const code = form.elements.code.value.trim();
  errorsClear("totp");
  busy(form, async () => {
    try {
      const { recovery_codes: codes } = await sensitive(() =>
        auth.call("POST", `${MFA}totp/`, { code }),
      );
      totpPanelClose();
      codesShow(codes);
      say("Your authenticator app is on. Save your recovery codes now.");
      await accountLoad();
    } catch (error) {
      if (error === CANCELLED) say("The authenticator app was not turned on.");
      else failed("totp", codeError(error));
    }
  });
});

$("totp-disable").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  errorsClear("totp-off");
  try {
    await sensitive(() => auth.call("DELETE", `${MFA}totp/`));
    codesHide();
    say("Your authenticator app is off: signing in no longer asks for its codes.");
    await accountLoad();
    $("totp-setup").focus();
  } catch (error) {
    if (error === CANCELLED) say("Your authenticator app is still on.");
    else failed("totp-off", error);
  } finally {
    button.disabled = false;
  }
});

/** Show new recovery codes, the only time they are ever shown. */
function codesShow(codes) {
  recoveryCodes = codes;
  $("codes-list").replaceChildren(
    ...codes.map((code) => {
      const item = el("li");
      item.append(el("code", "", code));
      return item;
    }),
  );
  $("codes-panel").hidden = false;
  $("codes-panel-title").focus();
}

function codesHide() {
  recoveryCodes = [];
  $("codes-list").replaceChildren();
  $("codes-panel").hidden = true;
}

$("codes-renew").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  errorsClear("codes");
  try {
    const { recovery_codes: codes } = await sensitive(() =>
      auth.call("POST", `${MFA}recovery-codes/`),
    );
    codesShow(codes);
    say("New recovery codes made: every earlier one is dead. Save these now.");
    await accountLoad();
  } catch (error) {
    if (error === CANCELLED) say("Your recovery codes were not changed.");
    else failed("codes", error);
  } finally {
    button.disabled = false;
  }
});

$("codes-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(recoveryCodes.join("\n"));
    say("Recovery codes copied.");
  } catch {
    say("This browser did not let the page copy: select the codes and copy them yourself.");
  }
});

$("codes-download").addEventListener("click", () => {
  const text = `dualauth recovery codes for ${$("profile-username").textContent}\n\n${recoveryCodes.join("\n")}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const anchor = el("a");
  anchor.href = url;
  anchor.download = "dualauth-recovery-codes.txt";
  anchor.click();
  URL.revokeObjectURL(url);
});

$("codes-done").addEventListener("click", () => {
  codesHide();
  say("Your recovery codes are put away: this page shows them no more.");
  ($("codes-section").hidden ? $("twofa-title") : $("codes-renew")).focus();
});

function passkeyItem(passkey) {
  const item = el("li", "device passkey");
  item.dataset.id = passkey.id;
  const used = passkey.last_used_at ? `last used ${ago(passkey.last_used_at)}` : "never used";
  const text = el("div", "device-text");
  text.append(
    el("p", "device-name", passkey.name),
    el("p", "device-meta", `added ${dateShow(passkey.created_at)} · ${used}`),
  );
  const actions = el("div", "actions");
  const rename = el("button", "small", "Rename");
  rename.type = "button";
  rename.dataset.action = "rename";
  rename.setAttribute("aria-label", `Rename passkey ${passkey.name}`);
  rename.addEventListener("click", () => renameOpen(passkey));
  const remove = el("button", "danger small", "Remove");
  remove.type = "button";
  remove.setAttribute("aria-label", `Remove passkey ${passkey.name}`);
  remove.addEventListener("click", () => passkeyRemove(passkey, remove));
  actions.append(rename, remove);
  item.append(text, actions);
  return item;
}

async function passkeysLoad() {
  errorsClear("passkeys");
  $("passkey-form").hidden = !webauthn.supported();
  try {
    const passkeys = await auth.call("GET", `${MFA}passkeys/`);
    $("passkeys").replaceChildren(...passkeys.map(passkeyItem));
    $("passkeys-empty").hidden = passkeys.length > 0;
  } catch (error) {
    failed("passkeys", error);
  }
}

/** Reload the factors after a change: the list, and the account's counts. */
const factorsReload = () => Promise.all([passkeysLoad(), accountLoad()]);

$("passkey-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.elements.name.value.trim();
  errorsClear("passkey");
  if (!name) {
    // Asked before the ceremony, which would otherwise be wasted on a refused name.
    errorsShow("passkey", { errors: { name: ["Give the passkey a name."] } });
    return;
  }
  busy(form, async () => {
    try {
      const options = await sensitive(() => auth.call("POST", `${MFA}passkeys/options/`));
      const credential = await webauthn.create(options);
      await auth.call("POST", `${MFA}passkeys/`, { name, credential });
      form.reset();
      say(`Passkey “${name}” added.`);
      await factorsReload();
    } catch (error) {
      if (error === CANCELLED) say("No passkey was added.");
      else failed("passkey", error);
    }
  });
});

function renameOpen(passkey) {
  renaming = passkey;
  $("rename-form").reset();
  errorsClear("rename");
  $("rename-name").value = passkey.name;
  $("rename-title").textContent = `Rename passkey “${passkey.name}”`;
  $("rename-dialog").showModal();
  $("rename-name").select();
}

$("rename-cancel").addEventListener("click", () => $("rename-dialog").close());

$("rename-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.elements.name.value.trim();
  errorsClear("rename");
  busy(form, async () => {
    try {
      const { id } = renaming;
      await auth.call("PATCH", `${MFA}passkeys/${id}/`, { name });
      $("rename-dialog").close();
      say(`Passkey renamed “${name}”.`);
      await passkeysLoad();
      $("passkeys").querySelector(`[data-id="${id}"] [data-action=rename]`)?.focus();
    } catch (error) {
      if (error.status === 401) {
        $("rename-dialog").close();
        failed("passkeys", error);
      } else {
        problem("rename", error);
      }
    }
  });
});

async function passkeyRemove(passkey, button) {
  button.disabled = true;
  errorsClear("passkeys");
  try {
    await sensitive(() => auth.call("DELETE", `${MFA}passkeys/${passkey.id}/`));
    say(`Passkey “${passkey.name}” removed: it no longer signs in to your account.`);
    await factorsReload();
    $("passkey-name").focus();
  } catch (error) {
    button.disabled = false;
    if (error === CANCELLED) say(`Passkey “${passkey.name}” was not removed.`);
    else failed("passkeys", error);
  }
}

/** Show the app to a signed-in browser, else `signedOut()`; resolves to the profile or null. */
async function boot(signedOut = () => showLogin()) {
  try {
    const profile = await auth.resume();
    if (profile) showApp(profile);
    else signedOut();
    return profile;
  } catch (error) {
    showLogin(error.message);
    return null;
  }
}

// External providers: buttons that sign in (or link) by redirect, and the linked ones.

const PROVIDERS = "/api/account/providers/";
const PROVIDER_ERRORS = {
  account_exists:
    "An account already uses this email address. Sign in to it, then link the provider from your account page.",
  identity_in_use: "That sign-in is already linked to another account.",
  provider_denied: "The provider did not sign you in.",
  provider_state_not_valid: "That sign-in did not start in this browser, or took too long. Please try again.",
  provider_email_not_verified: "The provider has not verified your email address.",
  provider_token_not_valid: "The provider's answer was not accepted. Please try again.",
  provider_unavailable: "The provider cannot be reached right now. Please sign in another way.",
  provider_not_configured: "That provider is not available here.",
  email_not_verified: "Verify your email address first: follow the link we mailed you.",
  reauthentication_required: "Linking needs a recent sign-in: confirm it's you, then link the provider again.",
  not_authenticated: "Sign in first, then link the provider.",
};
let providers = [];
// The provider this tab left to link, for the round trip through the provider: its id only.
const LINKING_KEY = "dualauth.linking";

/** Where a browser goes to sign in with (or link) `provider`, then lands on `next`. */
function providerUrl(provider, mode, next = "/") {
  const query = new URLSearchParams({ mode, next });
  return `${PROVIDERS}${encodeURIComponent(provider.id)}/redirect/?${query}`;
}

let providersLoaded = null;

/** The providers offering a redirect, fetched once: a public list, kept out of the activity log,
 * which shows the calls of a login. */
function providersLoad() {
  providersLoaded ??= (async () => {
    try {
      const response = await fetch(PROVIDERS, { headers: { Accept: "application/json" } });
      const listed = response.ok ? await response.json() : [];
      providers = listed.filter((p) => p.flows.includes("redirect"));
    } catch {
      providers = [];
    }
    $("login-providers-area").hidden = providers.length === 0;
    $("login-providers").replaceChildren(...providers.map(providerButton));
  })();
  return providersLoaded;
}

function providerButton(provider) {
  const button = el("button", "", `Sign in with ${provider.name}`);
  button.type = "button";
  button.dataset.provider = provider.id;
  button.addEventListener("click", () => {
    const mode = new FormData($("login-form")).get("mode");
    auth.setMode(mode);
    window.location.assign(providerUrl(provider, mode));
  });
  return button;
}

function linkedItem(identity) {
  const item = el("li", "device");
  item.dataset.id = identity.id;
  const used = identity.last_used_at ? `last used ${ago(identity.last_used_at)}` : "never used";
  const name = providers.find((p) => p.id === identity.provider)?.name ?? identity.provider;
  const text = el("div", "device-text");
  text.append(
    el("p", "device-name", `${name}${identity.email ? ` · ${identity.email}` : ""}`),
    el("p", "device-meta", `linked ${dateShow(identity.linked_at)} · ${used}`),
  );
  const remove = el("button", "danger small", "Unlink");
  remove.type = "button";
  remove.setAttribute("aria-label", `Unlink ${name}`);
  remove.addEventListener("click", () => linkedRemove(identity, name, remove));
  const actions = el("div", "actions");
  actions.append(remove);
  item.append(text, actions);
  return item;
}

async function linkedLoad() {
  errorsClear("linked");
  $("linked-area").hidden = providers.length === 0;
  // A server without providers has no card to fill: no call.
  if (providers.length === 0) return;
  $("link-buttons").replaceChildren(
    ...providers.map((provider) => {
      const button = el("button", "small", `Link ${provider.name}`);
      button.type = "button";
      button.addEventListener("click", () => linkStart(provider));
      return button;
    }),
  );
  try {
    const linked = await auth.call("GET", `${PROVIDERS}linked/`);
    $("linked").replaceChildren(...linked.map(linkedItem));
    $("linked-empty").hidden = linked.length > 0;
  } catch (error) {
    failed("linked", error);
  }
}

async function linkedRemove(identity, name, button) {
  button.disabled = true;
  errorsClear("linked");
  try {
    await sensitive(() => auth.call("DELETE", `${PROVIDERS}linked/${identity.id}/`));
    say(`${name} unlinked: it no longer signs in to your account.`);
    await linkedLoad();
  } catch (error) {
    button.disabled = false;
    if (error === CANCELLED) say(`${name} was not unlinked.`);
    else if (error.code === "last_sign_in_method")
      errorsShow("linked", { message: "This is your last way to sign in: add a password or a passkey first." });
    else failed("linked", error);
  }
}

/** Leave for the provider to link it to this login. */
function linkStart(provider) {
  sessionStorage.setItem(LINKING_KEY, provider.id);
  window.location.assign(providerUrl(provider, "link", "/"));
}

/** The provider this tab left to link, forgotten as it is read. */
function linkingTake() {
  const id = sessionStorage.getItem(LINKING_KEY);
  sessionStorage.removeItem(LINKING_KEY);
  return providers.find((p) => p.id === id) ?? null;
}

/** A provider sign-in came back: signed in already, its second step, or an error. A link
 * refused for want of a fresh sign-in asks for the password, then leaves to link again. */
async function providerReturn({ action, code, mfaToken, methods }) {
  await providersLoad();
  const linking = linkingTake();
  if (action === "mfa") {
    mfaOpen({ mfa_token: mfaToken, methods: methods.split(","), mode: auth.currentMode() });
    return;
  }
  const profile = await boot();
  if (profile && linking && code === "reauthentication_required") {
    try {
      await reauthenticate();
      linkStart(linking);
      return;
    } catch (error) {
      if (error === CANCELLED) {
        say(`${linking.name} was not linked.`);
        return;
      }
    }
  }
  const message = PROVIDER_ERRORS[code] ?? `The provider sign-in failed (${code}).`;
  if (profile) errorsShow("linked", { message });
  else showLogin(message);
}

/** Start where a mailed link points, else at the app or the sign-in form. */
async function start(taken) {
  const { action, key } = taken;
  providersLoad();
  if (action === "provider-error" || action === "mfa") await providerReturn(taken);
  else if (action === "verify-email") await verifyOpen(key);
  else if (action === "reset-password") resetOpen(key);
  else if (action === "undo") undoOpen(key);
  else if (action === "signup") await boot(() => viewOpen("signup"));
  else if (action === "forgot-password") await boot(() => viewOpen("forgot"));
  else await boot();
}

start(link);

// A mailed link opened in a tab at this page changes only the fragment: no new page loads.
window.addEventListener("hashchange", () => {
  const taken = linkTake();
  if (taken.action) start(taken);
});
