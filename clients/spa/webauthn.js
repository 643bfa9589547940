// Passkeys: the server's WebAuthn options (JSON, base64url) to the browser's ArrayBuffers, and the
// browser's credential back to JSON. Written out rather than PublicKeyCredential's JSON helpers,
// which not every browser has.

/** A passkey ceremony that did not happen; shown like an API error, with no HTTP status. */
export class PasskeyError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.errors = {};
  }
}

const MESSAGES = {
  NotAllowedError: "The passkey request was cancelled or timed out.",
  InvalidStateError: "This passkey is already on your account.",
  SecurityError: "Passkeys do not work at this address.",
  NotSupportedError: "This browser or device cannot make a passkey of the kind the server asks for.",
  AbortError: "The passkey request was cancelled.",
};

/** Whether this browser can use passkeys at all (a secure context with WebAuthn). */
export const supported = () => window.isSecureContext && "PublicKeyCredential" in window;

function bufferOf(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "=");
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0)).buffer;
}

function textOf(buffer) {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const descriptors = (list) => (list ?? []).map((item) => ({ ...item, id: bufferOf(item.id) }));

/** The credential as the server reads it: every binary field in base64url. */
function credentialJson(credential) {
  const { response } = credential;
  const json = {
    id: credential.id,
    rawId: textOf(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: textOf(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = textOf(response.attestationObject);
    json.response.transports = response.getTransports?.() ?? [];
  } else {
    json.response.authenticatorData = textOf(response.authenticatorData);
    json.response.signature = textOf(response.signature);
    json.response.userHandle = response.userHandle ? textOf(response.userHandle) : null;
  }
  return json;
}

async function ceremony(run) {
  if (!supported()) throw new PasskeyError("passkey_unsupported", "This browser does not support passkeys.");
  try {
    return credentialJson(await run());
  } catch (error) {
    const message = MESSAGES[error?.name] ?? `The passkey did not work: ${error?.message ?? error}`;
    throw new PasskeyError("passkey_failed", message);
  }
}

/** Make a passkey from the server's creation options; resolves to the credential's JSON. */
export function create(options) {
  const publicKey = {
    ...options,
    challenge: bufferOf(options.challenge),
    user: { ...options.user, id: bufferOf(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  };
  return ceremony(() => navigator.credentials.create({ publicKey }));
}

/** Sign the server's challenge with a passkey (request options); resolves to the assertion's JSON. */
export function get(options) {
  const publicKey = {
    ...options,
    challenge: bufferOf(options.challenge),
    allowCredentials: descriptors(options.allowCredentials),
  };
  return ceremony(() => navigator.credentials.get({ publicKey }));
}
