import { describe, expect, it } from "vitest";
import type { User } from "../api/types";
import {
  PASSWORD_MAX,
  PASSWORD_MIN,
  checkNewPassword,
  isLastActiveAdmin,
  roleChange,
  roleChangeWarning,
} from "./users";

let next = 0;
function user(overrides: Partial<User>): User {
  next += 1;
  return {
    public_id: `00000000-0000-4000-8000-${String(next).padStart(12, "0")}`,
    email: `u${next}@example.com`,
    username: `u${next}`,
    role: "viewer",
    is_active: true,
    created_at: "2026-12-01T10:00:00Z",
    ...overrides,
  };
}

describe("users", () => {
  it("knows the last active admin", () => {
    const admin = user({ role: "admin" });
    const inactive = user({ role: "admin", is_active: false });
    const viewer = user({});
    expect(isLastActiveAdmin([admin, inactive, viewer], admin)).toBe(true);
    expect(isLastActiveAdmin([admin, inactive, viewer], viewer)).toBe(false);
    expect(isLastActiveAdmin([admin, inactive, viewer], inactive)).toBe(false);
    const second = user({ role: "admin" });
    expect(isLastActiveAdmin([admin, second], admin)).toBe(false);
  });

  it("asks only for a change and warns when it signs someone out", () => {
    const operator = user({ role: "operator" });
    expect(roleChange(operator, "operator")).toBeNull();
    expect(roleChange(operator, "viewer")).toEqual({ role: "viewer" });
    expect(roleChangeWarning(operator, "admin")).toBeNull();
    expect(roleChangeWarning(operator, "viewer")).toContain("signed out everywhere");
  });

  it("checks a new password at its bounds", () => {
    const min = "x".repeat(PASSWORD_MIN);
    expect(checkNewPassword(min, min)).toBeNull();
    expect(checkNewPassword(min.slice(1), min.slice(1))).toContain(`${PASSWORD_MIN}`);
    const max = "x".repeat(PASSWORD_MAX);
    expect(checkNewPassword(max, max)).toBeNull();
    expect(checkNewPassword(`${max}x`, `${max}x`)).toContain(`${PASSWORD_MAX}`);
    expect(checkNewPassword(min, `${min}y`)).toBe("The two passwords differ.");
  });
});
