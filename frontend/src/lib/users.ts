import type { Role, User, UserUpdate } from "../api/types";

/** The cloud's bounds on passwords. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

/** True when `user` is the only active admin: the cloud refuses to demote, deactivate or
 * delete them, so the page does not offer it. */
export function isLastActiveAdmin(users: readonly User[], user: User): boolean {
  if (!(user.is_active && user.role === "admin")) return false;
  return !users.some(
    (other) => other.public_id !== user.public_id && other.is_active && other.role === "admin",
  );
}

/** The PUT body for a role change, or null when nothing changes. */
export function roleChange(user: User, role: Role): UserUpdate | null {
  return role === user.role ? null : { role };
}

/** What a role change does to the user's sign-ins, said before it is made. */
export function roleChangeWarning(user: User, role: Role): string | null {
  const ranks: Role[] = ["viewer", "operator", "admin"];
  if (ranks.indexOf(role) >= ranks.indexOf(user.role)) return null;
  return `${user.email} becomes ${role} and is signed out everywhere (their API tokens act as ${role} at most).`;
}

/** A new password checked as the cloud will (and typed twice alike), or why not. */
export function checkNewPassword(password: string, repeated: string): string | null {
  if (password.length < PASSWORD_MIN)
    return `The password needs at least ${PASSWORD_MIN} characters.`;
  if (password.length > PASSWORD_MAX)
    return `The password has more than ${PASSWORD_MAX} characters.`;
  if (password !== repeated) return "The two passwords differ.";
  return null;
}
