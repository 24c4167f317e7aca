import { describe, expect, it } from "vitest";
import type { ApiToken } from "../api/types";
import {
  TOKEN_NAME_MAX,
  checkTokenDraft,
  expiryText,
  isExpired,
  lastUsedText,
  roleText,
  tokenRolesFor,
} from "./tokens";

const NOW = Date.parse("2026-12-02T10:00:00Z");

function token(overrides: Partial<ApiToken>): ApiToken {
  return {
    public_id: "00000000-0000-4000-8000-000000000001",
    name: "ci",
    prefix: "wm_abcdefgh",
    role: "operator",
    effective_role: "operator",
    last_used_at: null,
    expires_at: null,
    created_at: "2026-12-01T10:00:00Z",
    user_public_id: "00000000-0000-4000-8000-000000000002",
    user_email: "a@example.com",
    ...overrides,
  };
}

describe("tokens", () => {
  it("offers the roles up to the creator's, theirs first", () => {
    expect(tokenRolesFor("admin")).toEqual(["admin", "operator", "viewer"]);
    expect(tokenRolesFor("operator")).toEqual(["operator", "viewer"]);
    expect(tokenRolesFor("viewer")).toEqual(["viewer"]);
  });

  it("checks a draft as the cloud does", () => {
    const ok = checkTokenDraft({ name: "  ci  ", role: "viewer", expires: "" }, "operator", NOW);
    expect(ok).toEqual({ ok: true, body: { name: "ci", role: "viewer", expires_at: null } });
    expect(checkTokenDraft({ name: " ", role: "viewer", expires: "" }, "admin", NOW)).toEqual({
      ok: false,
      message: "Enter a name for the token.",
    });
    const edge = "n".repeat(TOKEN_NAME_MAX);
    expect(checkTokenDraft({ name: edge, role: "viewer", expires: "" }, "admin", NOW).ok).toBe(
      true,
    );
    expect(
      checkTokenDraft({ name: `${edge}n`, role: "viewer", expires: "" }, "admin", NOW).ok,
    ).toBe(false);
    expect(checkTokenDraft({ name: "x", role: "admin", expires: "" }, "operator", NOW)).toEqual({
      ok: false,
      message: "A token cannot have a higher role than yours (operator).",
    });
  });

  it("turns a local expiry into UTC and refuses the past", () => {
    const later = checkTokenDraft(
      { name: "x", role: "viewer", expires: "2026-12-03T10:00" },
      "viewer",
      NOW,
    );
    expect(later.ok && later.body.expires_at).toBe(new Date("2026-12-03T10:00").toISOString());
    expect(
      checkTokenDraft({ name: "x", role: "viewer", expires: "2020-01-01T00:00" }, "viewer", NOW),
    ).toEqual({ ok: false, message: "The expiry must be in the future." });
  });

  it("describes use, expiry and a lowered role", () => {
    expect(lastUsedText(token({}))).toBe("Never");
    expect(lastUsedText(token({ last_used_at: "2026-12-01T10:00:00Z" }))).not.toBe("Never");
    expect(expiryText(token({}))).toBe("Never");
    expect(isExpired(token({}), NOW)).toBe(false);
    expect(isExpired(token({ expires_at: "2026-12-02T09:59:59Z" }), NOW)).toBe(true);
    expect(isExpired(token({ expires_at: "2026-12-02T10:00:01Z" }), NOW)).toBe(false);
    expect(roleText(token({}))).toBe("operator");
    expect(roleText(token({ effective_role: "viewer" }))).toBe("operator (acts as viewer)");
  });
});
