/** Unit tests (test/unit) are pure and fast; e2e tests (test/e2e) drive the real pulumi CLI against sandbox hosts. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 600000,
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "test/tsconfig.json" }] },
};
