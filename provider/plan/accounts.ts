/**
 * Account changes under confirm-or-revert: before the change, the passwd/shadow lines of the accounts it touches and
 * the group/gshadow lines of the groups it touches are saved host-side (root-only, under /run/sftp-jail, so no
 * password hash ever crosses the wire); the revert puts exactly those lines back in place (and drops entries that
 * did not exist), leaving every other line of the files as it is.
 */
import { HostFacts } from "../observe/facts";
import { quoteArg } from "../util/shell";
import { Plan, Step } from "./types";
import { writeFileSh } from "./atomic";

/** Same directory as the dead-man timers (tmpfs: a reboot forgets both together). */
const SAVE_ROOT = "/run/sftp-jail";

const union = (plan: Plan, k: "accounts" | "groups" | "memberships") => [...new Set(plan.flatMap((s) => s.effects[k] ?? []))].sort();

/** True when the plan changes an account or a group that exists already: who may log in could change. */
export function changesExistingAccounts(plan: Plan, f: Pick<HostFacts, "users" | "groups">): boolean {
  const users = new Set(f.users.map((u) => u.name));
  const groups = new Set(f.groups.map((g) => g.name));
  return union(plan, "accounts").some((a) => users.has(a)) || union(plan, "groups").some((g) => groups.has(g));
}

/** Save, restore and drop steps for the entries `plan` touches (pure; unit-tested); undefined when it touches none. */
export function accountGuard(id: string, plan: Plan): { save: Step; restore: Step; drop: Step } | undefined {
  const accounts = union(plan, "accounts");
  const groups = [...new Set([...union(plan, "groups"), ...union(plan, "memberships")])].sort();
  if (!accounts.length && !groups.length) return undefined;
  const dir = `${SAVE_ROOT}/accounts-${id}`;
  const d = quoteArg(dir);
  const files: Array<[string, string[]]> = [
    ["passwd", accounts],
    ["shadow", accounts],
    ["group", groups],
    ["gshadow", groups],
  ];
  const names = (n: string[]) => quoteArg(` ${n.join(" ")} `);
  const save = [
    `umask 077; install -d -m 0700 -o root -g root ${SAVE_ROOT} ${d} || exit 1`,
    ...files.map(([f, n]) => `if [ -f /etc/${f} ]; then awk -F: -v n=${names(n)} 'index(n, " " $1 " ") > 0' /etc/${f} > ${d}/${f} || exit 1; fi`),
  ].join("\n");
  // Lines of the saved names are replaced in place; a saved entry that vanished is appended; one that did not exist
  // before the change is dropped. Written with the one atomic write (plan/atomic.ts), keeping the file's owner and mode.
  const merge = `awk -F: -v n="$2" -v saved="$3" 'BEGIN { while ((getline l < saved) > 0) { split(l, a, ":"); s[a[1]] = l } } index(n, " " $1 " ") > 0 { if ($1 in s) { print s[$1]; done[$1] = 1 }; next } { print } END { for (k in s) if (!(k in done)) print s[k] }' "$1"`;
  const put = [
    "sj_put() {",
    '  [ -f "$1" ] && [ -f "$3" ] || return 0',
    `  ${writeFileSh({ target: '"$1"', tmp: '"$1.sftp-jail.tmp"', dir: '"${1%/*}"', content: merge, attrs: "keep" })} || return 1`,
    "}",
  ].join("\n");
  const restore = [put, ...files.map(([f, n]) => `sj_put /etc/${f} ${names(n)} ${d}/${f} || exit 1`), `rm -rf ${d}`].join("\n");
  const what = [...accounts.map((a) => `account ${a}`), ...groups.map((g) => `group ${g}`)].join(", ");
  return {
    save: { description: `save the entries of ${what} (host-side, root-only) for revert`, script: save, effects: { paths: [dir] } },
    restore: { description: `restore the entries of ${what} as they were`, script: restore, effects: { accounts, memberships: groups, paths: [dir] } },
    drop: { description: "remove the saved account entries", script: `rm -rf ${d}`, effects: { paths: [dir] } },
  };
}
