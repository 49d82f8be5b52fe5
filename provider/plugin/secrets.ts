/**
 * The engine's wire encoding of secrets (sdk/nodejs/runtime/rpc.ts): the plugin accepts secrets, so inputs arrive
 * wrapped; the adapters see plain values and the connection goes back to state wrapped, i.e. encrypted.
 */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const isSecret = (v: unknown): v is { value: unknown } =>
  !!v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;

/** Removes secret wrappers anywhere in a value. */
export function reveal(v: unknown): any {
  if (isSecret(v)) return reveal(v.value);
  if (Array.isArray(v)) return v.map(reveal);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  return v;
}

export const secret = (v: unknown) => (v === undefined ? undefined : { [SIG_KEY]: SECRET_SIG, value: v });

/** `connection` is secret in state whatever the program did, exactly as the dynamic resources make it. */
export function sealConnection<T extends Record<string, unknown> | undefined>(o: T): T {
  if (!o || o.connection === undefined) return o;
  return { ...o, connection: secret(o.connection) };
}
