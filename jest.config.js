/**
 * Projects, one command (`npm test` runs them all): unit tests (test/unit) are pure and fast, so a hung one fails
 * within 15 s instead of waiting out the e2e timeout; e2e tests (test/e2e, test/sandbox.test.ts) drive the real
 * pulumi CLI against sandbox hosts and get 10 minutes. `npx jest test/unit` or `--selectProjects unit` picks one.
 * The timeouts are set in test/setup/*.ts: jest applies `testTimeout` only from the top-level config, not per project.
 */
const common = {
  preset: "ts-jest",
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "test/tsconfig.json" }] },
};

/**
 * The core suites again on the other Debian generations (OpenSSH 8.4 and 10.0; Debian 12's 9.2 runs every suite):
 * the jail judged by sshd, the lockout guards and the sshd planner are where generations differ (sshd's binaries,
 * `-T` output, reload). The rest run once, on Debian 12, to keep CI inside its time (README, Requirements).
 */
const GENERATIONS = ["bullseye", "trixie"];
const CORE = ["jail", "lockout", "sshd"];

module.exports = {
  projects: [
    {
      ...common,
      displayName: "unit",
      roots: ["<rootDir>/test/unit"],
      testMatch: ["**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/unit-timeout.ts"],
    },
    {
      ...common,
      displayName: "e2e",
      roots: ["<rootDir>/test"],
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts", "<rootDir>/test/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/e2e-timeout.ts"],
    },
    ...GENERATIONS.map((g) => ({
      ...common,
      displayName: `e2e-${g}`,
      roots: ["<rootDir>/test/e2e"],
      testMatch: CORE.map((n) => `<rootDir>/test/e2e/${n}.test.ts`),
      globals: { SFTPJAIL_GENERATION: g },
      setupFiles: ["<rootDir>/test/setup/generation.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/e2e-timeout.ts"],
    })),
  ],
};
