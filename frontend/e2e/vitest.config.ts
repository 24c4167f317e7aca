import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The browser scripts: run by tests/e2e (pytest owns the stack and passes it in E2E_* env
// vars), one file at a time, e.g. `vitest run --config e2e/vitest.config.ts e2e/live.e2e.ts`.
export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    include: ["e2e/**/*.e2e.ts", "e2e/bench/**/*.perf.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    reporters: ["verbose"],
  },
});
