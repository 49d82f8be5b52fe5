/**
 * Logging through Pulumi's engine so messages appear in the CLI's UI. The dynamic-provider process is started with
 * the engine's address as its first argument but does not hand it to the SDK's log module, so we do, once.
 *
 * How, with public API only: `pulumi.runtime.resetOptions` (exported from `@pulumi/pulumi/runtime`) is the SDK's own
 * way to give a provider process its engine address — its native provider server calls it with the address the
 * engine passes. It resets the runtime's per-deployment state too (monitor, feature flags), none of which a
 * dynamic-provider process uses; project, stack, organization and dry-run are passed back as they were. The SDK
 * offers no setter for the engine address alone, and PULUMI_NODEJS_ENGINE is read only when the runtime's settings
 * are first created, which the dynamic provider's Configure does before any resource code runs.
 */
import * as pulumi from "@pulumi/pulumi";

let wired = false;
function wireEngine(): void {
  if (wired) return;
  wired = true;
  const script = process.argv[1] ?? "";
  const addr = process.argv[2];
  // Only in the dynamic-provider process, and only when the engine is not reachable already (a program process has
  // PULUMI_NODEJS_ENGINE; a later SDK may wire it itself).
  if (!/dynamic-provider/.test(script) || !addr || process.env.PULUMI_NODEJS_ENGINE) return;
  const rt = pulumi.runtime;
  try {
    if (rt.getEngine()) return;
    // Parallelism and the monitor address: a dynamic-provider process registers no resources, so it has neither.
    rt.resetOptions(rt.getProject(), rt.getStack(), -1, addr, "", rt.isDryRun(), organization());
  } catch {
    /* messages then go to the provider's stderr, as before the engine was wired */
  }
}

/** The organization the runtime knows, or "" (getOrganization throws when there is none, as in this process). */
function organization(): string {
  try {
    return pulumi.runtime.getOrganization();
  } catch {
    return "";
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
