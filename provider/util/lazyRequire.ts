/**
 * A `require` whose module loads on first use (provider/cli/preload.ts defers TypeScript with it). No side effects
 * until `deferRequire` is called.
 */
import Module = require("module");

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const M = Module as unknown as { _load: Loader; _resolveFilename(request: string, parent: unknown, isMain: boolean): string };

/**
 * A stand-in for `exports`, loading it with `load()` on first use (every Proxy trap forwards to the real module).
 * With `esModule` (a module compiled from ES modules, whose `__esModule` is true), `__esModule` is answered without
 * loading it: TypeScript's `__importStar`, which reads it at once, then keeps the stand-in as it would the module.
 */
export function lazyModule(load: () => object, opts: { esModule?: boolean } = {}): object {
  let real: object | undefined;
  const get = () => (real ??= load());
  const esFlag = (p: string | symbol) => opts.esModule === true && p === "__esModule" && real === undefined;
  return new Proxy(
    {},
    {
      get: (_, p) => (esFlag(p) ? true : Reflect.get(get(), p)),
      set: (_, p, v) => Reflect.set(get(), p, v),
      has: (_, p) => esFlag(p) || Reflect.has(get(), p),
      ownKeys: () => Reflect.ownKeys(get()),
      // Reported configurable: the stand-in's own (empty, extensible) target must not be contradicted.
      getOwnPropertyDescriptor: (_, p) => {
        const d = Reflect.getOwnPropertyDescriptor(get(), p);
        return d && { ...d, configurable: true };
      },
      defineProperty: (_, p, d) => Reflect.defineProperty(get(), p, d),
      deleteProperty: (_, p) => Reflect.deleteProperty(get(), p),
      getPrototypeOf: () => Reflect.getPrototypeOf(get()),
    },
  );
}

/** Makes `require(name)` lazy in this process (once per name; the first resolved file is the one deferred). */
export function deferRequire(name: string): void {
  defer((request) => request === name, () => true, {});
}

/**
 * Makes the module a `require(request)` resolves to lazy in this process, when its file ends with `fileSuffix` (a
 * package's own relative require, e.g. `./automation` from @pulumi/pulumi's index): one stand-in for that file,
 * whoever requires it. `esModule` as for {@link lazyModule}.
 */
export function deferModule(request: string, fileSuffix: string, opts: { esModule?: boolean } = {}): void {
  defer((r) => r === request, (f) => f.replace(/\\/g, "/").endsWith(fileSuffix), opts);
}

function defer(matches: (request: string) => boolean, accept: (file: string) => boolean, opts: { esModule?: boolean }): void {
  const load = M._load;
  let file: string | undefined;
  let standIn: object | undefined;
  M._load = function (this: unknown, request: string, parent: unknown, isMain: boolean) {
    if (matches(request)) {
      let resolved: string | undefined;
      try {
        resolved = M._resolveFilename(request, parent, isMain);
      } catch {
        // not installed: the original loader throws as it always did
      }
      if (resolved !== undefined && (file === undefined ? accept(resolved) : resolved === file)) {
        file = resolved;
        const f = resolved;
        return (standIn ??= lazyModule(() => load.call(this, f, parent, false) as object, opts));
      }
    }
    return load.call(this, request, parent, isMain);
  } as Loader;
}
