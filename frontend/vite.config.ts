import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

// Where `npm run dev` sends /api and /ws; point it at any running cloud.
const cloud = process.env.REVLINK_CLOUD_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [vue()],
  server: {
    proxy: {
      "/api": { target: cloud, changeOrigin: true },
      "/ws": { target: cloud, changeOrigin: true, ws: true },
      "/healthz": { target: cloud, changeOrigin: true },
    },
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
