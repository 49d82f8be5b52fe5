/**
 * The call stack Pulumi records with every registration (the state's `stackTrace`; `sourcePosition` is its first
 * frame). The SDK skips four frames (Resource > CustomResource > the class > user code), but sftp-jail's classes sit
 * one level deeper (DynamicResource) and SftpJailHost builds its children itself: their traces began inside this
 * package and ended in @pulumi/pulumi's run harness, the same frames in every resource, saying nothing about the
 * program. They were ~70 of the ~95 KB traces took in a 10-host state (18% of it, rewritten at every save: issue 10),
 * and made `sourcePosition` name this package instead of the program line that declared the resource.
 */
import * as path from "path";
import * as url from "url";
import * as pulumi from "@pulumi/pulumi";

const TRIMMED = Symbol.for("sftp-jail.userFramesOnly");

export type Frame = { uri?: unknown; line?: unknown; column?: unknown } | undefined;

/**
 * The frames of a trace that are the program's: a trace that starts inside one of `ours` (one of our resources) loses
 * every frame inside `ours` or `sdk` (and frames without a position). Any other trace, or one that would be left
 * empty, is returned as it is.
 */
export function programFrames(frames: Frame[], ours: readonly string[], sdk: readonly string[]): Frame[] {
  const inside = (f: Frame, dirs: readonly string[]) => typeof f?.uri === "string" && dirs.some((d) => (f.uri as string).startsWith(d));
  if (!Array.isArray(frames) || !inside(frames[0], ours)) return frames;
  const kept = frames.filter((f) => f !== undefined && !inside(f, ours) && !inside(f, sdk));
  return kept.length > 0 ? kept : frames;
}

/** A directory as the prefix of the `file:` URIs the SDK gives frames in it. */
const dirUri = (dir: string) => url.pathToFileURL(dir).href.replace(/\/?$/, "/");

/**
 * Makes the SDK record only the program's frames for sftp-jail's resources (other resources' traces are untouched).
 * Returns false, changing nothing, when the SDK no longer has that method; calling it again changes nothing more.
 */
export function programFramesOnly(): boolean {
  const R = pulumi.Resource as unknown as { stackTrace?: ((skip: number) => Frame[]) & { [TRIMMED]?: true } };
  const original = R.stackTrace;
  if (typeof original !== "function") return false;
  if (original[TRIMMED]) return true;
  // Where frames of this package and of the SDK are, as compiled and (when a TypeScript program's source maps map
  // them, which they do to the `.ts` sources the maps name) as mapped: <package>/bin/provider and <package>/provider;
  // the SDK's own maps point one level above its directory, at node_modules/@pulumi.
  const provider = path.resolve(__dirname, ".."); // <package>/bin/provider compiled, <package>/provider in the sources
  const pkg = path.basename(path.dirname(provider)) === "bin" ? path.dirname(path.dirname(provider)) : path.dirname(provider);
  const ours = [dirUri(path.join(pkg, "bin", "provider")), dirUri(path.join(pkg, "provider"))];
  const sdkDir = path.dirname(require.resolve("@pulumi/pulumi"));
  const sdk = [dirUri(sdkDir), dirUri(path.dirname(sdkDir))];
  const trimmed = function (this: unknown, skip: number): Frame[] {
    return programFrames(original.call(this, skip), ours, sdk);
  };
  R.stackTrace = Object.assign(trimmed, { [TRIMMED]: true as const });
  return true;
}
