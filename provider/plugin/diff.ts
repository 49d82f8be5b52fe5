/**
 * Field-level diffs for `pulumi preview --diff`: which input paths differ between state and the program, with the
 * kind the engine shows (add, delete, update; *_REPLACE when the adapter said that field replaces the resource).
 * Pure: the decision whether anything changes and what replaces stays the adapter's.
 */
export type DiffKind = "ADD" | "ADD_REPLACE" | "DELETE" | "DELETE_REPLACE" | "UPDATE" | "UPDATE_REPLACE";

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (isObj(v)) {
    return `{${Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function walk(path: string, a: unknown, b: unknown, out: Record<string, "ADD" | "DELETE" | "UPDATE">): void {
  if (stable(a) === stable(b)) return;
  if (a === undefined) out[path] = "ADD";
  else if (b === undefined) out[path] = "DELETE";
  else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(`${path}[${i}]`, a[i], b[i], out);
  } else if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) walk(`${path}.${k}`, a[k], b[k], out);
  } else out[path] = "UPDATE";
}

/**
 * The changed paths of `fields` (plus `connection`, whose values are never shown: it is secret), old = state,
 * new = the checked inputs.
 */
export function detailedDiff(
  fields: string[],
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  replaces: string[],
): Record<string, DiffKind> {
  const out: Record<string, "ADD" | "DELETE" | "UPDATE"> = {};
  for (const k of fields) walk(k, olds[k], news[k], out);
  if (stable(olds.connection) !== stable(news.connection)) out.connection = olds.connection === undefined ? "ADD" : "UPDATE";
  const top = (p: string) => p.split(/[.[]/)[0];
  return Object.fromEntries(
    Object.entries(out).map(([p, kind]) => [p, (replaces.includes(top(p)) ? `${kind}_REPLACE` : kind) as DiffKind]),
  );
}
