import { beforeEach, describe, expect, it } from "vitest";
import {
  SESSION_ENDED_MESSAGE,
  loginNotice,
  rotateToken,
  setToken,
  token,
  tokenRefused,
} from "./session";

describe("a refused token during this tab's own token change", () => {
  beforeEach(() => {
    setToken("old");
    loginNotice.value = null;
  });

  it("does not end the session when the change brings a new token", async () => {
    let answer: (value: { access_token: string }) => void = () => undefined;
    const changing = rotateToken(
      () => new Promise<{ access_token: string }>((resolve) => (answer = resolve)),
      (changed) => changed.access_token,
    );
    // The cloud refuses the old token (the change committed) before the answer arrives.
    const refused = tokenRefused("old");
    answer({ access_token: "new" });
    await changing;
    await refused;
    expect(token.value).toBe("new");
    expect(loginNotice.value).toBeNull();
  });

  it("ends the session when the change fails", async () => {
    const changing = rotateToken(
      () => Promise.reject(new Error("wrong password")),
      (changed: { access_token: string }) => changed.access_token,
    );
    const refused = tokenRefused("old");
    await expect(changing).rejects.toThrow("wrong password");
    await refused;
    expect(token.value).toBeNull();
    expect(loginNotice.value).toBe(SESSION_ENDED_MESSAGE);
  });

  it("ends the session for a refusal with no change under way", async () => {
    await tokenRefused("old");
    expect(token.value).toBeNull();
  });

  it("ignores a refusal of a token already replaced", async () => {
    setToken("newer");
    await tokenRefused("old");
    expect(token.value).toBe("newer");
  });
});
