// Small DOM helpers. Every server value goes in through textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

/** An element with a class and text, for building lists. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Clear a form's messages: `<prefix>-error` and every `<prefix>-<field>-error`. */
export function errorsClear(prefix) {
  document.querySelectorAll(`[id^="${prefix}-"]`).forEach((node) => {
    if (node.classList.contains("field-error") || node.classList.contains("form-error")) {
      node.textContent = "";
    }
    node.removeAttribute("aria-invalid");
  });
}

/** Show an API error: each 400 field message under its field, the rest above the button. */
export function errorsShow(prefix, error) {
  errorsClear(prefix);
  let firstInvalid = null;
  const unplaced = [];
  for (const [field, messages] of Object.entries(error.errors ?? {})) {
    const slot = $(`${prefix}-${field}-error`);
    if (!slot) {
      unplaced.push(...messages);
      continue;
    }
    slot.textContent = messages.join(" ");
    const input = $(`${prefix}-${field}`);
    input?.setAttribute("aria-invalid", "true");
    firstInvalid ??= input;
  }
  const summary = firstInvalid ? "Please correct the highlighted fields." : error.message;
  $(`${prefix}-error`).textContent = [summary, ...unplaced].join(" ");
  firstInvalid?.focus();
}

/** Count `seconds` down in `node` as m:ss; returns a function that stops it. */
export function countdown(node, seconds, { prefix, onDone }) {
  const end = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    const clock = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    node.textContent = `${prefix} ${clock}`;
    if (left === 0) {
      clearInterval(interval);
      onDone();
    }
  };
  const interval = setInterval(tick, 250);
  tick();
  node.hidden = false;
  return () => {
    clearInterval(interval);
    node.hidden = true;
  };
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export const dateShow = (iso) => dateFormat.format(new Date(iso));

/** "2 minutes ago" for an ISO time. */
export function ago(iso) {
  const seconds = Math.round((new Date(iso) - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

/** "Chrome on Linux" from a User-Agent, or the agent itself when it is no browser. */
export function agentName(agent) {
  if (!agent) return "Unknown client";
  const browsers = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"]];
  const systems = [["Android", "Android"], ["iPhone", "iOS"], ["iPad", "iPadOS"], ["Windows", "Windows"], ["Mac OS", "macOS"], ["Linux", "Linux"]];
  const browser = browsers.find(([mark]) => agent.includes(mark))?.[1];
  const system = systems.find(([mark]) => agent.includes(mark))?.[1];
  if (!browser) return agent.split(" ")[0].slice(0, 40);
  return system ? `${browser} on ${system}` : browser;
}
