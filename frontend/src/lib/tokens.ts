import type { ApiToken, ApiTokenCreate, Role } from "../api/types";
import { formatDateTime } from "./format";

/** The longest token name the cloud takes. */
export const TOKEN_NAME_MAX = 100;

/** Roles from least to most; a token may have any role up to its creator's. */
export const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** The roles a user with `mine` may give a token, most first (the default is the first). */
export function tokenRolesFor(mine: Role): Role[] {
  return ROLES.filter((role) => roleRank(role) <= roleRank(mine)).reverse();
}

export interface TokenDraft {
  name: string;
  role: Role;
  /** The value of a `datetime-local` input (local time), or "" for no expiry. */
  expires: string;
}

/** The create form checked as the cloud will: the request body, or why not. */
export function checkTokenDraft(
  draft: TokenDraft,
  mine: Role,
  now: number = Date.now(),
): { ok: true; body: ApiTokenCreate } | { ok: false; message: string } {
  const name = draft.name.trim();
  if (!name) return { ok: false, message: "Enter a name for the token." };
  if (name.length > TOKEN_NAME_MAX) {
    return { ok: false, message: `The name is longer than ${TOKEN_NAME_MAX} characters.` };
  }
  if (roleRank(draft.role) > roleRank(mine)) {
    return { ok: false, message: `A token cannot have a higher role than yours (${mine}).` };
  }
  let expiresAt: string | null = null;
  if (draft.expires) {
    const when = new Date(draft.expires);
    if (Number.isNaN(when.getTime())) return { ok: false, message: "The expiry is not a date." };
    if (when.getTime() <= now) return { ok: false, message: "The expiry must be in the future." };
    expiresAt = when.toISOString();
  }
  return { ok: true, body: { name, role: draft.role, expires_at: expiresAt } };
}

export function isExpired(token: Pick<ApiToken, "expires_at">, now: number = Date.now()): boolean {
  return token.expires_at !== null && Date.parse(token.expires_at) <= now;
}

/** "Never" for a token never used; else when, to the minute (the cloud notes it no finer). */
export function lastUsedText(token: Pick<ApiToken, "last_used_at">): string {
  return token.last_used_at ? formatDateTime(token.last_used_at) : "Never";
}

export function expiryText(token: Pick<ApiToken, "expires_at">): string {
  return token.expires_at ? formatDateTime(token.expires_at) : "Never";
}

/** The role to show: the token's, and what it is lowered to when its owner's role is lower. */
export function roleText(token: Pick<ApiToken, "role" | "effective_role">): string {
  return token.role === token.effective_role
    ? token.role
    : `${token.role} (acts as ${token.effective_role})`;
}
