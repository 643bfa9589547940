// The dualauth SPA: sign in by session or JWT cookies, edit the profile, manage logins, and
// the account around them: sign-up, verification, password reset, email change, deletion.

import { activity, request } from "./api.js";
import * as auth from "./auth.js";
import { $, agentName, ago, countdown, dateShow, el, errorsClear, errorsShow } from "./ui.js";

// First of all, before any request can carry it in a Referer: a mailed key leaves the address bar.
const link = linkTake();

const LOG_LENGTH = 40;
const VIEWS = ["login", "signup", "mail", "resend", "forgot", "reset", "app"];
// Thrown when the user cancels a prompt: nothing was done, and nothing failed.
const CANCELLED = Symbol("cancelled");
let stopCountdown = () => {};
// Kept in memory only, never in storage or the address bar.
let resetKey = "";
// The address a "check your mail" view is about, and what it asked for ("verify" or "reset").
let mailed = { purpose: "verify", email: "" };
// The last sign-up of this page, to fill in the address when it asks for a new verification mail.
let signedUp = { username: "", email: "" };
let reauthDone = null;
let reauthOutcome = CANCELLED;

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

/** The `action` and `key` of a mailed link; both leave the address bar (and its history) at once. */
function linkTake() {
  const query = new URLSearchParams(window.location.search);
  const taken = { action: query.get("action") ?? "", key: query.get("key") ?? "" };
  if (query.has("action") || query.has("key")) {
    query.delete("action");
    query.delete("key");
    const rest = query.toString();
    const { pathname, hash } = window.location;
    const url = `${pathname}${rest ? `?${rest}` : ""}${hash}`;
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
  profileShow(profile);
  loginsLoad();
  accountLoad();
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
      const profile = await auth.logIn({
        username: data.get("username"),
        password: data.get("password"),
        remember: data.get("remember") === "on",
      });
      form.elements.password.value = "";
      showApp(profile);
      say(`Signed in with ${mode().label}.`);
      $("main").focus();
    } catch (error) {
      if (error.status === 429) throttled(error.retryAfter);
      else errorsShow("login", error);
      $("login-resend").hidden = error.code !== "email_not_verified";
    }
  });
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

/** Verify an address by a mailed key: a new account's, or the one a signed-in account moves to. */
async function verifyByLink(key) {
  const ask = "Enter your address and we mail you a new link.";
  if (!key) {
    await boot(() => resendOpen("", `This link is incomplete. ${ask}`));
    return;
  }
  try {
    const { email } = await request("POST", "/api/account/email/verify/", { key });
    const profile = await boot(() => {
      showLogin();
      $("login-username").focus();
    });
    // Whoever holds a key may use it: it may be another account's than the one signed in here.
    if (!profile) say(`Your address ${email} is verified. You can sign in now.`);
    else if (profile.email === email) say(`Your account's address is now ${email}.`);
    else say(`The address ${email} is verified.`);
  } catch (error) {
    const profile = await boot(() => resendOpen("", `${error.message} ${ask}`));
    if (profile) alertShow("email", `${error.message} Ask for a new link below.`);
  }
}

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

/** Run `action`; should the server want a fresh sign-in, ask for the password and run it once more. */
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

/** Start where a mailed link points, else at the app or the sign-in form. */
async function start({ action, key }) {
  if (action === "verify-email") await verifyByLink(key);
  else if (action === "reset-password") resetOpen(key);
  else if (action === "signup") await boot(() => viewOpen("signup"));
  else if (action === "forgot-password") await boot(() => viewOpen("forgot"));
  else await boot();
}

start(link);
