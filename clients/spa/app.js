// The dualauth SPA: sign in by session or JWT cookies, edit the profile, manage logins.

import { activity } from "./api.js";
import * as auth from "./auth.js";
import { $, agentName, ago, countdown, dateShow, el, errorsClear, errorsShow } from "./ui.js";

const LOG_LENGTH = 40;
let stopCountdown = () => {};

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

function showLogin(message = "") {
  $("app-view").hidden = true;
  $("whoami").hidden = true;
  $("login-view").hidden = false;
  document.querySelector(`input[name=mode][value="${auth.currentMode()}"]`).checked = true;
  rememberToggle();
  $("login-error").textContent = message;
}

function showApp(profile) {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  const jwt = auth.currentMode() === "jwt-cookie";
  $("logins-title").textContent = mode().loginsTitle;
  $("logins-note").textContent = jwt
    ? "Tokens are HttpOnly cookies: this page can never read them."
    : "The session cookie is HttpOnly: this page can never read it.";
  $("refresh-note").hidden = !jwt;
  profileShow(profile);
  loginsLoad();
}

/** The login is over (revoked, expired, signed out elsewhere): back to the sign-in form. */
function loginEnded(message) {
  auth.signedOut();
  showLogin(message);
  $("login-username").focus();
}

function failed(prefix, error) {
  if (error.status === 401) loginEnded("Your sign-in has ended. Please sign in again.");
  else errorsShow(prefix, error);
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
    }
  });
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

async function boot() {
  try {
    const profile = await auth.resume();
    if (profile) showApp(profile);
    else showLogin();
  } catch (error) {
    showLogin(error.message);
  }
}

boot();
