/**
 * Renders accepted inputs the way the provider would (planners on facts captured from a real host, the Match-block
 * renderer) while recording every argument handed to util/shell.ts, so a property can prove the rendering inert:
 * every argument survives a real sh unchanged (shell.property.test.ts's printer), no value lands in a script outside
 * a quoted argument, none becomes an option, and file bodies parse back to exactly what was meant.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as shell from "../../../provider/util/shell";
import { HostFacts, firewall } from "../../../provider/observe/facts";
import { Plan, PlanError } from "../../../provider/plan/types";
import { planGroupCreate } from "../../../provider/plan/sftpGroup";
import { UserDesired, planUser, renderKeys, parseKeys } from "../../../provider/plan/jailedUser";
import { ChrootDesired, chrootPaths, planChroot } from "../../../provider/plan/chrootDir";
import { BlockDesired, DIRECTIVE_NAMES, parseBlock, renderBlock } from "../../../provider/plan/sshdRender";
import { RuleDesired, planRuleConverge } from "../../../provider/plan/firewall";
import { debian12 } from "../fixtures";

/** Runs every command line in one sh; each prints its argc, then its arguments, NUL-terminated. Returns them back. */
export function shellArgv(commands: string[]): string[][] {
  const script = commands.join("\n");
  // The script on stdin (`sh -s`): one -c argument this long would exceed the kernel's per-argument limit.
  const out = execFileSync("sh", ["-s"], { input: script, maxBuffer: 256 * 1024 * 1024 }).toString("utf8");
  const fields = out.split("\0");
  const result: string[][] = [];
  let i = 0;
  while (i < fields.length - 1) {
    const n = Number(fields[i++]);
    result.push(fields.slice(i, i + n));
    i += n;
  }
  return result;
}

/** A printf command line printing `argv` as the shell parsed it, built with `quote`. */
export const printer = (argv: string[]) => shell.quote(["printf", "%s\\0", String(argv.length), ...argv]);

/** Facts of the captured Debian 12 host with the firewall of one capture (test/unit/fixtures/firewall-*.txt). */
export function withFirewall(name: string): HostFacts {
  const raw = fs.readFileSync(path.join(__dirname, "..", "fixtures", `firewall-${name}.txt`), "utf8");
  return { ...debian12(), firewall: firewall.parse(raw) };
}

/** Debian 12 facts that also have these users and groups (so planners get past "does not exist"). */
function factsWith(users: string[], groups: string[]): HostFacts {
  const f = debian12();
  let id = 40000;
  for (const g of groups) if (!f.groups.some((x) => x.name === g)) f.groups.push({ name: g, gid: id++, members: [] });
  for (const u of users) if (!f.users.some((x) => x.name === u)) f.users.push({ name: u, uid: id++, gid: 40000, home: "/nonexistent", shell: "/usr/sbin/nologin" });
  return f;
}

/** What rendering produced: the scripts, every argument quoted on the way, and file bodies with their checks. */
export interface Rendered {
  scripts: string[];
  args: string[][];
  /** A refusal by the planner (a PlanError), which is a refusal, not a rendering. */
  refused?: string;
}

/** Runs `f` while recording every argv passed to quote() and every single argument passed to quoteArg(). */
export function recording(f: () => Plan): Rendered {
  const args: string[][] = [];
  const q = jest.spyOn(shell, "quote").mockImplementation((argv) => {
    args.push(argv.map(String));
    return argv.map((a) => shell.quoteArg(a)).join(" ");
  });
  const realQuoteArg = jest.requireActual<typeof shell>("../../../provider/util/shell").quoteArg;
  const qa = jest.spyOn(shell, "quoteArg").mockImplementation((a) => {
    args.push([String(a)]);
    return realQuoteArg(a);
  });
  try {
    return { scripts: f().map((s) => s.script), args };
  } catch (e) {
    if (e instanceof PlanError) return { scripts: [], args, refused: e.message };
    throw e;
  } finally {
    q.mockRestore();
    qa.mockRestore();
  }
}

/**
 * Why a rendering is not inert for the accepted value `v`, or undefined. A value with characters the shell treats
 * specially must appear in scripts only inside arguments that went through quoting; no argument may start with the
 * value when it begins with "-" (it would be read as an option).
 */
export function notInert(r: Rendered, v: string): string | undefined {
  if (v === "") return undefined;
  for (const argv of r.args) for (const a of argv) if (v.startsWith("-") && a.startsWith(v)) return `argument ${JSON.stringify(a)} starts with the value: an option`;
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(v)) return undefined; // nothing a shell reads specially
  const quoted = [...new Set(r.args.flat())].map((a) => shell.quoteArg(a)).sort((a, b) => b.length - a.length);
  for (const script of r.scripts) {
    let rest = script;
    for (const q of quoted) rest = rest.split(q).join("\u0000");
    if (rest.includes(v)) return `the value appears unquoted in ${JSON.stringify(script.slice(0, 200))}`;
  }
  return undefined;
}

/** The accepted SftpGroup, rendered. */
export const renderGroup = (d: { name: string; gid?: number; system: boolean }) => recording(() => planGroupCreate(d, debian12()).steps);

/** The accepted JailedUser, rendered: its commands, and its key file parsed back. */
export function renderUser(d: UserDesired): Rendered & { keyFileProblem?: string } {
  const r = recording(() => planUser(d, factsWith([], [d.group, ...d.extraGroups])).steps);
  const text = renderKeys(d.authorizedKeys);
  const back = parseKeys(text);
  const keyFileProblem =
    JSON.stringify(back) !== JSON.stringify(d.authorizedKeys) || text.split("\n").length !== d.authorizedKeys.length + 1
      ? `the key file does not read back as one key per line: ${JSON.stringify(text.slice(0, 200))}`
      : undefined;
  return { ...r, keyFileProblem };
}

/** The accepted ChrootDir, rendered. */
export function renderChroot(d: ChrootDesired): Rendered {
  const f = factsWith(d.subdirs.map((s) => s.owner), [d.group, ...d.subdirs.map((s) => s.group)]);
  // The snapshot stats every path the resource names; on this host none of them exists yet.
  for (const p of chrootPaths(d)) f.paths[p] ??= { path: p, exists: false, uid: -1, gid: -1, mode: 0, type: "missing" };
  return recording(() => planChroot(d, f).steps);
}

/** The accepted FirewallRule, rendered on an iptables-nft host and on a native nftables host. */
export function renderRule(d: RuleDesired): Rendered[] {
  return (["iptables-nft", "nftables"] as const).map((host) =>
    recording(() => {
      const facts = withFirewall(host);
      const p = planRuleConverge({ ...d, backend: d.backend === "auto" ? (host === "nftables" ? "nftables" : "iptables") : d.backend }, facts);
      return [...p.steps, ...p.revert];
    }),
  );
}

/**
 * Why a rendered Match block is not exactly the block meant, or undefined: its non-comment lines must be one `Match`
 * line followed by one line per directive, in the renderer's order, each `<Keyword> <value>` with the value as given,
 * and the provider's parser must read back the same criteria and directives.
 */
export function blockProblem(d: BlockDesired): string | undefined {
  const text = renderBlock(d);
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  const want = DIRECTIVE_NAMES.filter((k) => d.directives[k] !== undefined);
  if (lines.filter((l) => /^\s*match(\s|=|$)/i.test(l)).length !== 1 || !/^Match /.test(lines[0])) return `not exactly one Match line first: ${JSON.stringify(text)}`;
  if (lines.length !== 1 + want.length) return `${lines.length - 1} directive lines for ${want.length} directives: ${JSON.stringify(text)}`;
  for (let i = 0; i < want.length; i++) {
    if (lines[i + 1] !== `\t${want[i]} ${d.directives[want[i]]}`) return `line ${i + 2} is ${JSON.stringify(lines[i + 1])}, not ${want[i]}`;
  }
  if (/[\r\0\\"'#]/.test(lines.join(""))) return `a character sshd_config reads specially: ${JSON.stringify(text)}`;
  const back = parseBlock(text);
  if (JSON.stringify(back.directives) !== JSON.stringify(Object.fromEntries(want.map((k) => [k, d.directives[k]])))) return `directives read back as ${JSON.stringify(back.directives)}`;
  const m = Object.fromEntries(Object.entries(d.match).filter(([, v]) => v !== undefined));
  if (JSON.stringify(back.match) !== JSON.stringify(m)) return `criteria read back as ${JSON.stringify(back.match)}`;
  return undefined;
}
