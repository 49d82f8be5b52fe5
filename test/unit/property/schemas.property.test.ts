/**
 * Every field of every resource schema, of the connection and of the stack config, attacked with generated hostile
 * strings (traversal, option injection, shell and sshd_config metacharacters, control characters and NUL, Unicode
 * confusables, zero-width and bidi characters, over-long values; alone and glued to a valid value). Each value is
 * either refused by `check` naming that field's property path (or the list/object holding it), or accepted and then
 * rendered the way the provider would — planner commands on captured host facts, the key file, the Match block —
 * and proved inert: every argument passes a real sh unchanged, the value appears in no script outside a quoted
 * argument and never as an option, and file bodies parse back to exactly what was meant.
 */
import * as fc from "fast-check";
import { z } from "zod";
import { checkInputs } from "../../../provider/adapters/base";
import * as sftpGroup from "../../../provider/adapters/sftpGroup";
import * as jailedUser from "../../../provider/adapters/jailedUser";
import * as chrootDir from "../../../provider/adapters/chrootDir";
import * as sshdMatchBlock from "../../../provider/adapters/sshdMatchBlock";
import * as firewallRule from "../../../provider/adapters/firewallRule";
import { connectionSchema } from "../../../provider/connection/schema";
import { failuresOf } from "../../../provider/schema/common";
import { DIRECTIVE_NAMES } from "../../../provider/plan/sshdRender";
import { fleetSchema } from "../../../program/config";
import { BASE, KEY_A, setPath } from "../../e2e/programs/hostile/cases";
import { PLAN, hostileFor, params } from "./arbitraries";
import { FIELDS, Field, Target } from "./fields";
import { Rendered, blockProblem, notInert, printer, renderChroot, renderGroup, renderRule, renderUser, shellArgv } from "./render";

/** A connection that is valid and goes nowhere (nothing here dials). */
const CONNECTION = { host: "127.0.0.1", port: 1, user: "root", privateKeyFile: "/root/.ssh/id_ed25519", dialErrorLimit: 1 };

/** A fleet like the README's. */
const FLEET = {
  hosts: [{ name: "files1", labels: { site: "fra" }, connection: { host: "10.0.0.5", user: "root", privateKeyFile: "/root/.ssh/id_ed25519", hostKey: KEY_A } }],
  groups: [{ name: "auditors", gid: 2300 }],
  jails: [
    {
      group: { name: "sftp", gid: 2200 },
      chrootBase: "/srv/sftp",
      users: [{ name: "alice", keys: [KEY_A], writableDirs: ["upload"], chroot: { path: "/srv/sftp/alice", mode: "0755" } }],
      sshdDirectives: { X11Forwarding: "no" },
      authorizedKeysFile: ".ssh/authorized_keys",
    },
  ],
  rollout: { canary: "10%" },
};

const ADAPTERS = { SftpGroup: sftpGroup, JailedUser: jailedUser, SshdMatchBlock: sshdMatchBlock, FirewallRule: firewallRule };
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A dot path as check reports it: "subdirs.0.path" → "subdirs[0].path". */
const property = (path: string) => path.replace(/\.(\d+)(?=\.|$)/g, "[$1]");

/** The property and every object/list holding it: a refusal may name the list ("only negated patterns"). */
function acceptableProperties(p: string): string[] {
  const out = [p];
  for (let q = p; /[.[]/.test(q); ) {
    q = q.replace(/(\[\d+\]|\.[^.[]+)$/, "");
    out.push(q);
  }
  return out;
}

/** check, without dialling (ChrootDir's check looks at the host once its inputs are valid: its schema alone here). */
async function check(on: Target, args: Record<string, unknown>): Promise<{ failures: { property: string; reason: string }[]; inputs: Record<string, unknown> }> {
  if (on === "ChrootDir") return checkInputs(chrootDir.chrootDirShape, args);
  const r = await ADAPTERS[on].check({}, args);
  return { failures: r.failures ?? [], inputs: r.inputs as Record<string, unknown> };
}

/** Every argument vector rendered by accepted values, for one sh run at the end. */
const rendered: string[][] = [];
/** Accepted-and-rendered values per resource: the inertness half of the property must not be vacuous. */
const acceptedOn: Record<string, number> = {};
let tested = 0;

/** Renders accepted, checked inputs of `on` and says why the rendering is not inert for `v`, if it is not. */
function inertProblem(on: Target, inputs: Record<string, unknown>, v: string): string | undefined {
  acceptedOn[on] = (acceptedOn[on] ?? 0) + 1;
  let r: Rendered & { keyFileProblem?: string };
  switch (on) {
    case "SftpGroup":
      r = renderGroup(inputs as never);
      break;
    case "JailedUser": {
      r = renderUser(inputs as never);
      // Its jail, planned as a ChrootDir at its home.
      const jail = inputs.chroot as Record<string, unknown> | undefined;
      if (jail && !r.refused) {
        const c = renderChroot({ ...jail, path: inputs.home } as never);
        r = { ...r, scripts: [...r.scripts, ...c.scripts], args: [...r.args, ...c.args], refused: c.refused };
      }
      break;
    }
    case "ChrootDir":
      r = renderChroot(inputs as never);
      break;
    case "SshdMatchBlock":
      return blockProblem(inputs as never);
    case "FirewallRule": {
      const i = inputs as Record<string, any>;
      const d = { ...i, ports: i.ports ?? [i.port], state: i.state ?? [] } as never;
      for (const x of renderRule(d)) {
        const why = notInert(x, v);
        if (why) return why;
        rendered.push(...x.args);
      }
      return undefined;
    }
  }
  rendered.push(...r.args);
  return r.keyFileProblem ?? notInert(r, v);
}

/** Sets `v` at `path` of `on`'s valid base inputs (or of its connection) and checks it. */
async function attack(on: Target | "connection", path: string, v: string): Promise<string | undefined> {
  const target: Target = on === "connection" ? "SftpGroup" : on;
  // A bastion needs its host: attacks on its other fields start from one.
  const connection = path.startsWith("proxy.") ? { ...clone(CONNECTION), proxy: { host: "bastion.example.com" } } : clone(CONNECTION);
  const args: Record<string, unknown> = { ...clone(BASE[target]), connection };
  setPath(args, on === "connection" ? `connection.${path}` : path, v);
  const prop = property(on === "connection" ? `connection.${path}` : path);
  const { failures, inputs } = await check(target, args);
  if (failures.length) {
    const ok = acceptableProperties(prop);
    const wrong = failures.find((f) => !ok.includes(f.property));
    return wrong ? `refused, but naming ${wrong.property} (${wrong.reason}) instead of ${prop}` : undefined;
  }
  // Connection values go to the SSH client library and into no host command or file: accepted is all there is.
  return on === "connection" ? undefined : inertProblem(target, inputs, v);
}

/** The stack config: refused naming the config path, or passed on to the resources it lands in (attacked there). */
async function attackConfig(f: Field, v: string): Promise<string | undefined> {
  const fleet = clone(FLEET) as unknown as Record<string, unknown>;
  setPath(fleet, f.path, v);
  const r = fleetSchema.safeParse(fleet);
  if (!r.success) {
    const ok = acceptableProperties(property(f.path));
    const wrong = failuresOf(r.error).find((x) => !ok.includes(x.property));
    return wrong ? `config refused, but naming ${wrong.property} instead of ${property(f.path)}` : undefined;
  }
  for (const l of f.lands ?? []) {
    const why = await attack(l.on, l.path, l.value(v));
    if (why) return `in ${l.on} ${l.path}: ${why}`;
  }
  return undefined;
}

describe("every schema field against generated hostile strings (property)", () => {
  afterAll(() => {
    // Every argument any accepted value was rendered into, through one real sh: it must arrive unchanged.
    const argvs = rendered.filter((a) => a.every((x) => !x.includes("\0")));
    expect(argvs.length).toBe(rendered.length);
    expect(shellArgv(argvs.map(printer))).toEqual(argvs);
    if (FIELDS.length === tested) {
      // A full run: values were accepted (and so rendered and checked) on every resource type.
      for (const t of ["SftpGroup", "JailedUser", "ChrootDir", "SshdMatchBlock", "FirewallRule"]) expect({ t, accepted: (acceptedOn[t] ?? 0) > 0 }).toEqual({ t, accepted: true });
    }
  });

  it.each(FIELDS.map((f) => [`${f.on} ${f.path}`, f] as const))(`%s: ${PLAN["schema.field"]} cases refused naming the field, or rendered inert`, async (_name, f) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(hostileFor(f.valid), async (v) => {
        n++;
        const why = f.on === "config" ? await attackConfig(f, v) : await attack(f.on, f.path, v);
        if (why) throw new Error(`${JSON.stringify(v.length > 300 ? v.slice(0, 300) + "..." : v)}: ${why}`);
      }),
      params("schema.field"),
    );
    expect(n).toBe(PLAN["schema.field"]);
    tested++;
  });

  it("the field table covers every input of every schema", () => {
    const covered = (on: string) => new Set(FIELDS.filter((f) => f.on === on).map((f) => f.path.split(".")[0]));
    const shapes: Record<Target, z.ZodRawShape> = {
      SftpGroup: sftpGroup.sftpGroupShape,
      JailedUser: jailedUser.jailedUserShape,
      ChrootDir: chrootDir.chrootDirShape,
      SshdMatchBlock: sshdMatchBlock.sshdMatchBlockShape,
      FirewallRule: firewallRule.firewallRuleShape,
    };
    for (const [on, shape] of Object.entries(shapes)) expect({ on, keys: Object.keys(shape).filter((k) => !covered(on).has(k)) }).toEqual({ on, keys: [] });
    // Every criterion and every directive the block allows.
    const block = FIELDS.filter((f) => f.on === "SshdMatchBlock").map((f) => f.path);
    for (const k of ["User", "Group", "Host", "Address", "LocalAddress", "LocalPort"]) expect(block.some((p) => p.startsWith(`match.${k}`))).toBe(true);
    for (const k of DIRECTIVE_NAMES) expect(block).toContain(`directives.${k}`);
    // The connection: all but the secrets (never rendered anywhere), the numbers and the boolean.
    const notAttacked = ["password", "privateKey", "privateKeyPassword", "dialErrorLimit", "perDialTimeout", "dangerouslyTrustAnyHostKey"];
    const conn = Object.keys((connectionSchema as unknown as { _zod: { def: { in?: { shape: object }; shape?: object } } })._zod.def.in?.shape ?? {});
    const keys = conn.length ? conn : ["host", "port", "user", "privateKeyFile", "agentSocketPath", "knownHostsFile", "hostKey", "sudo", "proxy", "revertAfterSeconds"];
    for (const k of keys) if (!notAttacked.includes(k)) expect({ k, covered: covered("connection").has(k) }).toEqual({ k, covered: true });
  });
});
