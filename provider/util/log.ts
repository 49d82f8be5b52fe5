/**
 * Logging through Pulumi's engine so messages appear in the CLI's UI. The dynamic-provider process is started with
 * the engine's address as its first argument but does not hand it to the SDK's log module, so we do, once.
 */
import * as pulumi from "@pulumi/pulumi";

let wired = false;
function wireEngine(): void {
  if (wired) return;
  wired = true;
  const script = process.argv[1] ?? "";
  const addr = process.argv[2];
  if (!/dynamic-provider/.test(script) || !addr || process.env.PULUMI_NODEJS_ENGINE) return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const state = require("@pulumi/pulumi/runtime/state");
    const opts = state.getStore().settings.options;
    if (!opts.engineAddr) opts.engineAddr = addr;
  } catch {
    /* older SDK layout: messages fall back to the provider's stderr */
  }
}

export const log = {
  debug(msg: string): void {
    wireEngine();
    void pulumi.log.debug(msg).catch(() => undefined);
  },
  info(msg: string): void {
    wireEngine();
    void pulumi.log.info(msg).catch(() => undefined);
  },
  warn(msg: string): void {
    wireEngine();
    void pulumi.log.warn(msg).catch(() => undefined);
  },
};
