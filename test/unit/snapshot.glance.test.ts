/**
 * The preview-time glance (provider/observe/snapshot.ts `glance`): checks run one at a time, so over a fresh cached
 * snapshot a check's look stats and reads only what the cache lacks, without the base facts, and joins the cache.
 * Run against a scripted session (the exec's output is a real host's snapshot, fixtures/debian12.snapshot.txt).
 */
import * as fs from "fs";
import * as path from "path";
import type { Session } from "../../provider/connection/pool";
import { forget, glance, glanceScript, observe, parseGlance, parseSnapshot, reread } from "../../provider/observe/snapshot";

const FULL = fs.readFileSync(path.join(__dirname, "fixtures", "debian12.snapshot.txt"), "utf8");
const MARK = "@@sftp-jail:";

/** A session whose exec answers a full snapshot, or a glance with one stat per path asked. */
function session(): Session & { scripts: string[] } {
  const scripts: string[] = [];
  const s = {
    target: "root@192.0.2.7:22",
    conn: { host: "192.0.2.7", port: 22, user: "root" },
    scripts,
    ready: async () => undefined,
    exec: async (script: string) => {
      scripts.push(script);
      if (!script.includes("sshd -T")) {
        const paths = [...script.matchAll(/'?(\/srv\/[a-z/]+)'?/g)].map((m) => m[1]);
        const stats = [...new Set(paths)].map((p) => `${p}|0|0|755|directory|7:1.000000000`);
        return { code: 0, stdout: [`${MARK}paths`, ...stats, `${MARK}files`, `${MARK}realpaths`, `${MARK}end`, ""].join("\n"), stderr: "" };
      }
      return { code: 0, stdout: FULL, stderr: "" };
    },
  };
  return s as unknown as Session & { scripts: string[] };
}

describe("glance: a check's look at its host", () => {
  it("without a cached snapshot, is a full observe", async () => {
    const s = session();
    const f = await glance(s, { paths: ["/srv/a"] });
    expect(s.scripts).toHaveLength(1);
    expect(s.scripts[0]).toContain("sshd -T");
    expect(f.users.length).toBeGreaterThan(0);
    forget(s);
  });

  it("over a fresh one, execs only the stats it lacks (no base facts) and joins the cache", async () => {
    const s = session();
    const first = await observe(s);
    const f = await glance(s, { paths: ["/srv/sftp/alice"] });
    expect(s.scripts).toHaveLength(2);
    expect(s.scripts[1]).not.toMatch(/sshd -T|iptables-save|nft |getent|sudoers|\/etc\/group/);
    expect(s.scripts[1]).toContain("/srv/sftp/alice");
    expect(f.paths["/srv/sftp/alice"]).toMatchObject({ exists: true, type: "directory" });
    // Base facts are the phase's snapshot's.
    expect(f.users).toEqual(first.users);
    expect(f.sshd).toEqual(first.sshd);
    // Covered now: neither a second glance nor observe() execs for it.
    await glance(s, { paths: ["/srv/sftp/alice"] });
    expect((await observe(s, { paths: ["/srv/sftp/alice"] })).paths["/srv/sftp/alice"].exists).toBe(true);
    expect(s.scripts).toHaveLength(2);
    forget(s);
  });

  it("a truncated answer is no look: it falls back to observe()", async () => {
    const s = session();
    await observe(s);
    const exec = s.exec.bind(s);
    let once = true;
    (s as { exec: Session["exec"] }).exec = async (script: string) => {
      if (once && !script.includes("@@sftp-jail:record")) {
        once = false;
        (s.scripts as string[]).push(script);
        return { code: 0, stdout: `${MARK}paths\n/srv/b|0|0|755|directory\n`, stderr: "" };
      }
      return exec(script);
    };
    const f = await glance(s, { paths: ["/srv/b"] });
    // observe()'s snapshot: it lists the manifest and reads the record, which a glance never does.
    expect(s.scripts[s.scripts.length - 1]).toContain("@@sftp-jail:record");
    expect(f.users.length).toBeGreaterThan(0);
    forget(s);
  });

  it("its script stats the paths with their ancestors and reads the files, nothing else", () => {
    const script = glanceScript({ paths: ["/srv/sftp/a"], files: ["/etc/ssh/k/a"] });
    expect(script).toContain("/srv/sftp/a");
    expect(script).toContain("/etc/ssh/k/a");
    expect(script.match(new RegExp(MARK, "g"))).toHaveLength(4);
    expect(parseGlance(`${MARK}paths\n/srv|0|0|755|directory\n${MARK}files\n${MARK}realpaths\n${MARK}end\n`)?.paths["/srv"].exists).toBe(true);
    expect(parseGlance(`${MARK}paths\n`)).toBeUndefined();
  });

  it("a section printed twice (a host name forging one) makes the whole snapshot untrusted, full or glance", () => {
    const forgedFiles = `${MARK}files\n/etc/ssh/sftp-jail/authorized_keys/mallory\t\n`;
    expect(() => parseGlance(`${MARK}paths\n${MARK}files\n${MARK}realpaths\n${forgedFiles}${MARK}end\n`)).toThrow(/"files" section twice/);
    expect(() => parseSnapshot(FULL.replace(`${MARK}end`, `${MARK}users\nmallory:x:0:0::/:/bin/sh\n${MARK}end`))).toThrow(/"users" section twice/);
    expect(parseSnapshot(FULL).users.length).toBeGreaterThan(0);
    // the error names the host and what to do
    expect(() => parseGlance(`${MARK}files\n${forgedFiles}${MARK}end\n`, "root@192.0.2.7:22")).toThrow(/on root@192\.0\.2\.7:22: .*section twice[\s\S]*fix: look on the host/);
  });
});

describe("reread: some base facts as they are now, over the phase's snapshot", () => {
  /** A session that answers a full snapshot, or a firewall-and-record delta with one more rule than before. */
  function rereading(): Session & { scripts: string[] } {
    const s = session();
    const exec = s.exec.bind(s);
    (s as { exec: Session["exec"] }).exec = async (script: string) => {
      if (script.includes("sshd -T")) return exec(script);
      s.scripts.push(script);
      const firewall = ["--variant", "iptables v1.8.9 (nf_tables)", "--iptables", "*filter", ":INPUT ACCEPT [0:0]", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", "COMMIT", "--ip6tables", "--legacy", "--nft"];
      return { code: 0, stdout: [`${MARK}manifest`, `${MARK}firewall`, ...firewall, `${MARK}paths`, `${MARK}files`, `${MARK}realpaths`, `${MARK}jail`, `${MARK}record`, `${MARK}end`, ""].join("\n"), stderr: "" };
    };
    return s;
  }

  it("without a cached snapshot, is a full one", async () => {
    const s = rereading();
    const f = await reread(s, ["firewall"]);
    expect(s.scripts).toHaveLength(1);
    expect(s.scripts[0]).toContain("sshd -T");
    expect(f.users.length).toBeGreaterThan(0);
    forget(s);
  });

  it("over a fresh one, execs only those facts and the record (no account, sshd or path), and joins the cache", async () => {
    const s = rereading();
    const first = await observe(s, { paths: ["/srv/sftp/alice"] });
    const f = await reread(s, ["firewall"]);
    expect(s.scripts).toHaveLength(2);
    expect(s.scripts[1]).toMatch(/iptables-save|nft /);
    expect(s.scripts[1]).not.toMatch(/sshd -T|@@sftp-jail:(users|groups|sudoers|operator)|\/srv\/sftp\/alice|sj_manifest p/);
    expect(s.scripts[1]).toContain("@@sftp-jail:record");
    // The firewall as the host has it now.
    expect(f.firewall).not.toEqual(first.firewall);
    expect(JSON.stringify(f.firewall)).toContain("22");
    // The rest is the phase's snapshot's, paths included.
    expect(f.users).toEqual(first.users);
    expect(f.sshd).toEqual(first.sshd);
    expect(f.paths).toEqual(first.paths);
    // The cache holds the merged facts: a later observe() needs no exec.
    expect(await observe(s, { paths: ["/srv/sftp/alice"] })).toEqual(f);
    expect(s.scripts).toHaveLength(2);
    forget(s);
  });

  it("with a snapshot exec queued, or an answer cut short, is a full one taken from now on", async () => {
    const s = rereading();
    await observe(s);
    const queued = observe(s, { paths: ["/srv/new"] });
    await new Promise((r) => setImmediate(r));
    await reread(s, ["firewall"]);
    await queued;
    // One exec for both, and a full one: the queued request's paths and every fact as it is now.
    expect(s.scripts.slice(1).map((x) => x.includes("sshd -T") && x.includes("/srv/new"))).toEqual([true]);
    forget(s);
    await observe(s);
    (s as { exec: Session["exec"] }).exec = async (script: string) => {
      s.scripts.push(script);
      return script.includes("sshd -T") ? { code: 0, stdout: FULL, stderr: "" } : { code: 0, stdout: `${MARK}firewall\n`, stderr: "" };
    };
    const n = s.scripts.length;
    const f = await reread(s, ["firewall"]);
    expect(s.scripts.slice(n).map((x) => x.includes("sshd -T"))).toEqual([false, true]);
    expect(f.users.length).toBeGreaterThan(0);
    forget(s);
  });
});
