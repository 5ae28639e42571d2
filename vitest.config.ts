import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // linux-backend suites create namespaces: run files one at a time so they never race on names
    fileParallelism: false,
    // snapshots the machine's own network namespace before and after all tests (linux backend safety)
    globalSetup: ["test/linux/root-untouched.setup.ts"],
  },
})
