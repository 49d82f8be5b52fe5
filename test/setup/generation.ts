/**
 * The host-generation projects (jest.config.js `e2e-bullseye`, `e2e-trixie`): every sandbox host a suite starts without
 * naming a suite is of the project's Debian generation (test/sandbox/sandbox.sh reads SFTPJAIL_SANDBOX_SUITE), given
 * as the project's `globals.SFTPJAIL_GENERATION`.
 */
const suite = (globalThis as { SFTPJAIL_GENERATION?: unknown }).SFTPJAIL_GENERATION;
if (typeof suite !== "string" || !/^[a-z]+$/.test(suite)) throw new Error("test/setup/generation.ts: the jest project sets no globals.SFTPJAIL_GENERATION");
process.env.SFTPJAIL_SANDBOX_SUITE = suite;
