/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { readFileSync } from "node:fs";

// The gateway's version (pyproject.toml) baked into the bundle: the shell warns when
// the server answering /api/status runs another version (a stale cached bundle).
function gatewayVersion(): string {
  try {
    const pyproject = readFileSync(new URL("../pyproject.toml", import.meta.url), "utf8");
    return `v${/^version\s*=\s*"([^"]+)"/m.exec(pyproject)?.[1] ?? "0.0.0"}`;
  } catch {
    return ""; // unknown: no banner
  }
}
const version = gatewayVersion();

// `npm run dev` proxies the API to a gateway on :3000 (make run).
const backend = process.env.ONEAPI_BACKEND ?? "http://localhost:3000";

export default defineConfig({
  plugins: [react()],
  define: { __APP_VERSION__: JSON.stringify(version) },
  server: {
    port: 5173,
    proxy: { "/api": backend, "/v1": backend },
  },
  build: {
    outDir: "dist",
    chunkSizeWarningLimit: 1500,
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
