import { ref } from "vue";

/** Where the dashboard keeps its access token. */
export const TOKEN_KEY = "revlink.token";

export const SESSION_ENDED_MESSAGE = "Your session has ended; sign in again.";

function readToken(): string | null {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** The current access token (null when signed out), mirrored in localStorage. */
export const token = ref<string | null>(readToken());

/** A message for the login page, e.g. after the cloud refused the token. */
export const loginNotice = ref<string | null>(null);

export function setToken(value: string | null): void {
  token.value = value;
  try {
    if (value === null) window.localStorage.removeItem(TOKEN_KEY);
    else window.localStorage.setItem(TOKEN_KEY, value);
  } catch {
    // Private mode without storage: the token lives for this tab only.
  }
}

type SessionEndedHandler = () => void;
let onEnded: SessionEndedHandler = () => undefined;

/** The router registers what happens when the cloud ends the session. */
export function onSessionEnded(handler: SessionEndedHandler): void {
  onEnded = handler;
}

/** Drop the token and send the user to the login page with a notice. */
export function endSession(): void {
  if (token.value === null) return;
  setToken(null);
  loginNotice.value = SESSION_ENDED_MESSAGE;
  onEnded();
}

// A token change this tab asked for (its own new password) and has not got the answer of yet.
let rotation: Promise<unknown> | null = null;

/**
 * Run `change`, which replaces this tab's token with the one `tokenOf` reads from its answer.
 * The cloud refuses the old token from the moment the change commits, which can be before
 * the answer arrives: a refusal meanwhile must not end the session (see {@link tokenRefused}).
 */
export async function rotateToken<T>(
  change: () => Promise<T>,
  tokenOf: (answer: T) => string,
): Promise<T> {
  const done = change().then((answer) => {
    setToken(tokenOf(answer));
    return answer;
  });
  rotation = done.catch(() => undefined);
  try {
    return await done;
  } finally {
    rotation = null;
  }
}

/**
 * The cloud refused `used` (a request's or a socket's token): end the session, unless a
 * change this tab made has replaced that token meanwhile.
 */
export async function tokenRefused(used: string | null): Promise<void> {
  if (rotation !== null) await rotation;
  if (used !== null && token.value !== null && token.value !== used) return;
  endSession();
}
