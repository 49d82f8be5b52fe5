/**
 * The engine's wire encoding of secrets (sdk/nodejs/runtime/rpc.ts): the plugin accepts secrets, so inputs arrive
 * wrapped; the adapters see plain values and the connection goes back to state wrapped, i.e. encrypted.
 */
import { Connection, secretFields as connectionSecrets } from "../connection/schema";

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

/** Whether a value holds a secret anywhere (a field with one secret element is a secret field). */
export function holdsSecret(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(holdsSecret);
  if (v && typeof v === "object") return Object.values(v).some(holdsSecret);
  return false;
}

/**
 * The fields to keep secret in what goes back to the engine: `connection` always (as the dynamic resources make it),
 * and every top-level field that holds a secret anywhere in `from` (what the engine sent, before reveal removes it).
 */
export function secretFields(from: unknown): Set<string> {
  const keys = new Set<string>(["connection"]);
  if (from && typeof from === "object") for (const [k, v] of Object.entries(from)) if (holdsSecret(v)) keys.add(k);
  return keys;
}

/**
 * Wraps `fields` of `o` as secrets. A provider that accepts secrets gets no help from the engine: whatever it returns
 * unwrapped is stored in state and shown in previews in plain text. So every inputs/outputs object this plugin hands
 * back goes through here, with the fields {@link secretFields} found in what the program sent: a field the program
 * made secret (or any part of it) stays secret in the inputs and in the same-named output.
 */
export function seal<T extends Record<string, unknown> | undefined>(o: T, fields: Set<string>): T {
  if (!o) return o;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fields.has(k) && v !== undefined ? secret(reveal(v)) : v])) as T;
}

/**
 * The default provider's connection secrets kept in plain text in the stack config (`sftpjail:connection` fields set
 * without --secret), as config paths (pure). Pulumi marks the whole key secret once any value in it is, so a
 * connection that arrives unwrapped holds no value that was set with --secret. Only a default provider's
 * configuration is stack config (`urn:...::pulumi:providers:sftpjail::default` or `default_<version>`); an explicit
 * provider's comes from its program, and every resource's connection secrets are sealed in state either way.
 */
export function plaintextConfigSecrets(urn: string, news: Record<string, unknown> | undefined): string[] {
  if (!/^default(_[0-9a-z_.+-]*)?$/.test(urn.split("::").pop() ?? "") || !news || holdsSecret(news.connection)) return [];
  let c = news.connection;
  if (typeof c === "string") {
    try {
      c = JSON.parse(c);
    } catch {
      return []; // not an object: configure names the problem
    }
  }
  return connectionSecrets(c as Partial<Connection>).map((f) => `sftpjail:connection.${f.path}`);
}
