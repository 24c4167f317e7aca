import { describe, expect, it } from "vitest";
import { COMMAND_STATE_TEXT, commandBadge } from "./commandState";

describe("command states", () => {
  it("has words and a badge for every state", () => {
    for (const state of ["pending", "delivered", "refused", "expired"] as const) {
      expect(COMMAND_STATE_TEXT[state].length).toBeGreaterThan(10);
    }
    expect(commandBadge("delivered")).toBe("badge-ok");
    expect(commandBadge("pending")).toBe("badge-pending");
    expect(commandBadge("refused")).toBe("badge-danger");
    expect(commandBadge("expired")).toBe("badge-muted");
  });
});
