import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // linux-backend suites create namespaces: run files one at a time so they never race on names
    fileParallelism: false,
  },
})
