/**
 * Two projects, one command (`npm test` runs both): unit tests (test/unit) are pure and fast, so a hung one fails
 * within 15 s instead of waiting out the e2e timeout; e2e tests (test/e2e, test/sandbox.test.ts) drive the real
 * pulumi CLI against sandbox hosts and get 10 minutes. `npx jest test/unit` or `--selectProjects unit` picks one.
 * The timeouts are set in test/setup/*.ts: jest applies `testTimeout` only from the top-level config, not per project.
 */
const common = {
  preset: "ts-jest",
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "test/tsconfig.json" }] },
};

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
  ],
};
