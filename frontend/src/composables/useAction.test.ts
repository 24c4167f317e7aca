import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { useAction } from "./useAction";

describe("useAction", () => {
  it("is busy while the task runs and clears the previous error", async () => {
    const action = useAction();
    action.error.value = "old";
    let release: () => void = () => undefined;
    const pending = action.run(() => new Promise<void>((resolve) => (release = resolve)));
    expect(action.busy.value).toBe(true);
    expect(action.error.value).toBeNull();
    release();
    expect(await pending).toBe(true);
    expect(action.busy.value).toBe(false);
    expect(action.error.value).toBeNull();
  });

  it("keeps the message of what the task threw", async () => {
    const action = useAction();
    const ok = await action.run(() => Promise.reject(new ApiError(409, "Name already taken")));
    expect(ok).toBe(false);
    expect(action.error.value).toBe("Name already taken");
    expect(action.busy.value).toBe(false);

    await action.run(async () => {
      throw new Error("plain");
    });
    expect(action.error.value).toBe("plain");
  });
});
