/**
 * @pulumi/pulumi's program runner (cmd/run) connects an inspector session and enables V8's debugger before the
 * program runs, for its closure serializer (runtime/closure/v8Hooks: which script a function is in). With the
 * debugger on, every script the program then loads is reported to that session, and the program pays for it whether
 * or not it ever serializes a function: ~10% of an sftp-jail program's CPU in a drift check (measured: 1.14 → 1.02
 * CPU-s; sftp-jail's own resources no longer serialize anything, provider/resources/dynamic.ts).
 *
 * `deferInspectorHooks` stands in for that module, with its three exports, and connects the session on the
 * serializer's first use instead. Nothing is lost: enabling the debugger reports every script loaded before it (Chrome
 * DevTools Protocol `Debugger.enable`), and the listener is attached before it is enabled, so the script map is as
 * complete as the SDK's own (more: the SDK attaches its listener after enabling, missing what was loaded before).
 */
import * as fs from "fs";
import * as path from "path";
import * as v8 from "v8";
import Module = require("module");

type Session = import("inspector").Session;

/** The stand-in's exports: the same three functions as the SDK's v8Hooks module. */
export interface InspectorHooks {
  getSessionAsync(): Promise<Session>;
  isInitializedAsync(): Promise<void>;
  getScriptUrl(id: string): string | undefined;
}

/** Hooks whose session is connected (with the debugger enabled) on the first `getSessionAsync`. */
export function lazyInspectorHooks(): InspectorHooks {
  const urls = new Map<string, string>();
  let session: Promise<Session> | undefined;
  const connect = async (): Promise<Session> => {
    const { Session } = await import("inspector");
    const s = new Session();
    s.connect();
    s.on("Debugger.scriptParsed", (e) => urls.set(e.params.scriptId, e.params.url));
    await new Promise<void>((resolve, reject) => s.post("Debugger.enable", (err) => (err ? reject(err) : resolve())));
    return s;
  };
  return {
    getSessionAsync: () => (session ??= connect()),
    // The runner awaits this before the program; the session waits for the serializer's first question.
    isInitializedAsync: async () => {},
    getScriptUrl: (id) => urls.get(id),
  };
}

/**
 * In a process whose main module is `runScript` (@pulumi/pulumi's cmd/run/index.js), makes that SDK's
 * runtime/closure/v8Hooks module {@link lazyInspectorHooks}. Returns whether it did: anything else (another main
 * module, an SDK without that file) is left alone.
 */
export function deferInspectorHooks(runScript: string | undefined): boolean {
  if (!runScript || !/(^|[\\/])@pulumi[\\/]pulumi[\\/]cmd[\\/]run[\\/]index\.js$/.test(runScript)) return false;
  let file: string;
  try {
    // The key Node's cache uses: the real path, as `require("./v8Hooks")` from the SDK resolves it.
    file = fs.realpathSync(path.join(path.dirname(runScript), "..", "..", "runtime", "closure", "v8Hooks.js"));
  } catch {
    return false;
  }
  const cache = (Module as unknown as { _cache: Record<string, Module> })._cache;
  if (cache[file]) return false;
  // The SDK's module sets this when it loads (its natives-syntax helpers need it); so does its stand-in.
  v8.setFlagsFromString("--allow-natives-syntax");
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  m.exports = lazyInspectorHooks();
  cache[file] = m;
  return true;
}
