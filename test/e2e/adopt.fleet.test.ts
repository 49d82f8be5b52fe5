/**
 * Exact adoption on real fleets (issue 11 items 3 and 4): a host set up by hand the classic way — rssh-era homes
 * (root-owned, one outside /home), accounts left with "!!" as RHEL's useradd does, `UsePAM no`, the Subsystem line
 * commented out and replaced, a Match block appended with tabs, `-m state` ACCEPT before the REJECT, an uploaded file —
 * on a RHEL-style host and on each Debian generation (11, 12, 13). `sftp-jail-migrate` → `pulumi up` modifies no
 * file anywhere → the documented hardening edits → `pulumi up` → real sftp logins, uploads intact, the operator still
 * logs in, and the next `preview --refresh` is empty. On the way (issue 11 item 5), IPv6 starting to REJECT on one host
 * after the adoption is told at preview as a half-open door (the opening is for every address, its ip6tables twin is
 * missing), on that host only, and `up --refresh` adds the twin.
 *
 * The RHEL-style variant is the Debian 12 rootfs customised from the console (RHEL packages cannot be fetched here):
 * os-release says ID_LIKE="rhel centos fedora", no Include in sshd_config (main-file mode), the init script is named
 * sshd, the ruleset is saved in /etc/sysconfig/iptables, accounts get /sbin/nologin. A console recipe rather than a
 * sandbox option: it is conventions on top of the same packages (no extra rootfs to build and cache), and each
 * convention stands in the test next to what proves it.
 */
import * as fs from "fs";
import * as path from "path";
import { Sandbox, SandboxHost, Suite, run, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, ROOT, RunResult, summary } from "./pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml: { load(s: string): unknown } = require("js-yaml");

jest.setTimeout(20 * 60_000);

interface Host {
  h: SandboxHost;
  rhel: boolean;
}
const sandboxes: Sandbox[] = [];
let hosts: Host[] = [];
let keyPath = "";
let c: Clients;
let p: PulumiProject;
const keys: Record<string, string> = {};

/** The RHEL conventions, applied first on the RHEL-style host. */
const RHEL_STYLE = [
  "set -e",
  "rm -f /etc/os-release && printf '%s\\n' 'NAME=\"Rocky Linux\"' 'ID=\"rocky\"' 'ID_LIKE=\"rhel centos fedora\"' 'VERSION_ID=\"8.9\"' 'PRETTY_NAME=\"Rocky Linux 8.9 (RHEL-style sandbox)\"' > /etc/os-release",
  "sed -i '/^Include /d' /etc/ssh/sshd_config",
  "mv /etc/init.d/ssh /etc/init.d/sshd",
  "mkdir -p /etc/sysconfig",
].join("\n");

/** The jail exactly as typed by hand, the classic way. */
function classic(rhel: boolean): string {
  const nologin = rhel ? "/sbin/nologin" : "/usr/sbin/nologin";
  return [
    "set -e",
    "groupadd sftponly",
    "mkdir -p /var/sftp",
    // alice: rssh-era home under /home; bob: a chroot outside /home, and a login shell left from before the jail.
    `useradd -m -d /home/alice -s ${nologin} -G sftponly alice`,
    "useradd -m -d /var/sftp/bob -s /bin/bash -G sftponly bob",
    // RHEL's useradd leaves "!!" in the password field.
    "usermod -p '!!' alice && usermod -p '!!' bob",
    ...["/home/alice", "/var/sftp/bob"].flatMap((home) => {
      const u = path.basename(home);
      return [
        `chown root:root ${home} && chmod 755 ${home}`,
        `mkdir ${home}/upload && chown ${u}:${u} ${home}/upload`,
        `mkdir -p ${home}/.ssh && echo '${keys[u]}' > ${home}/.ssh/authorized_keys`,
        `chown -R ${u}:${u} ${home}/.ssh && chmod 700 ${home}/.ssh && chmod 600 ${home}/.ssh/authorized_keys`,
      ];
    }),
    // An upload from before (placed from the console: under UsePAM no, "!!" keeps the account locked to sshd).
    "printf 'id;amount\\n1;20\\n' > /home/alice/upload/invoice.csv && chown alice:alice /home/alice/upload/invoice.csv",
    "sed -i 's/^#\\{0,1\\}UsePAM .*/UsePAM no/' /etc/ssh/sshd_config",
    "sed -i 's|^Subsystem|#Subsystem|' /etc/ssh/sshd_config",
    "printf '\\nSubsystem\\tsftp\\tinternal-sftp\\n\\nMatch Group sftponly\\n\\tChrootDirectory %%h\\n\\tForceCommand internal-sftp\\n\\tAllowTcpForwarding no\\n\\tX11Forwarding no\\n' >> /etc/ssh/sshd_config",
    `sshd -t && ${rhel ? "service sshd reload" : "kill -HUP $(cat /run/sshd.pid)"}`,
    "iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
    "iptables -A INPUT -i lo -j ACCEPT",
    "iptables -A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT",
    "iptables -A INPUT -j REJECT --reject-with icmp-host-prohibited",
    ...(rhel ? ["iptables-save > /etc/sysconfig/iptables"] : []),
  ].join("\n");
}

/** Everything adoption could touch: accounts, every sshd file, the ruleset (live and saved), the jails' trees. */
const FINGERPRINT = [
  "cd /",
  "sha256sum etc/passwd etc/group etc/shadow etc/gshadow",
  "find etc/ssh -type f | sort | xargs sha256sum",
  "iptables-save | grep -v '^#'",
  "sha256sum etc/sysconfig/iptables 2>/dev/null || true",
  "find home var/sftp -xdev -printf '%p %u:%g %m\\n' | sort",
  "find home var/sftp -xdev -type f -exec sha256sum {} + | sort",
].join("; ");
const mark = (h: SandboxHost) => h.console("touch /run/adopt-marker && sleep 1");
const touched = async (h: SandboxHost) =>
  (await h.console("find / -xdev -newer /run/adopt-marker ! -path /var/log/sshd.log ! -path /run ! -path /tmp | sort")).stdout.split("\n").filter(Boolean);

async function ok(r: Promise<RunResult>, what: string): Promise<RunResult> {
  const x = await r;
  if (x.code !== 0) throw new Error(`pulumi ${what} failed (${x.code}):\n${x.stdout}\n${x.stderr}`);
  return x;
}
interface Jail {
  hosts: { host: string };
  firewall?: unknown;
  users: Array<{ name: string; shell?: string; keyOnly?: boolean }>;
}
const name = (x: Host) => (x.rhel ? "rhel" : x.h.suite);

beforeAll(async () => {
  const plan: Array<{ suite: Suite; names: string[] }> = [
    { suite: "bookworm", names: ["afl-rhel", "afl-bookworm"] },
    { suite: "bullseye", names: ["afl-bullseye"] },
    { suite: "trixie", names: ["afl-trixie"] },
  ];
  for (const x of plan) sandboxes.push(await startSandbox(x.names, { suite: x.suite }));
  hosts = sandboxes.flatMap((s) => s.hosts).map((h) => ({ h, rhel: h.name === "afl-rhel" }));
  keyPath = sandboxes[0].keyPath;
  c = new Clients(hosts.map((x) => x.h));
  for (const u of ["alice", "bob"]) keys[u] = await c.keygen(u);
  for (const x of hosts) {
    if (x.rhel) await x.h.console(RHEL_STYLE);
    await x.h.console(classic(x.rhel));
  }
  p = await PulumiProject.create("adoptfleet");
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  for (const s of sandboxes) await s.stop();
});

let config = "";

test("the RHEL-style host really has RHEL's conventions", async () => {
  const rhel = hosts.find((x) => x.rhel)!.h;
  const r = await rhel.console("grep -c '^Include' /etc/ssh/sshd_config || true; ls /etc/init.d | grep -x -e sshd -e ssh; getent passwd alice | cut -d: -f7; readlink -e /sbin/nologin; grep '^alice:' /etc/shadow | cut -d: -f2; grep -c -- '-m state --state NEW' /etc/sysconfig/iptables");
  expect(r.stdout.split("\n")).toEqual(["0", "sshd", "/sbin/nologin", "/usr/sbin/nologin", "!!", "1", ""]);
  expect((await rhel.console("ls /etc/init.d/ssh 2>&1 || true")).stdout).toMatch(/No such file/);
});

test("sftp-jail-migrate describes every host as it is: -m state opening, kept shells, \"!!\" kept", async () => {
  const out = path.join(p.dir, "migrated.yaml");
  const argv = [process.execPath, path.join(ROOT, "bin/provider/cli/migrate.js"), "--private-key-file", keyPath];
  for (const x of hosts) argv.push("--host", "127.0.0.1", "--port", String(x.h.port), "--name", name(x), "--host-key", x.h.hostKey);
  const r = await run([...argv, "--out", out]);
  expect(r.code).toBe(0);
  config = fs.readFileSync(out, "utf8");
  expect(r.stderr).not.toMatch(/no firewall rule found/);
  const jails = (yaml.load(config) as { config: Record<string, Jail[]> }).config["sftp-jail:jails"];
  expect(jails.map((j) => j.hosts.host)).toEqual(hosts.map(name));
  for (const j of jails) {
    // The -m state rule recognised; bob's /bin/bash kept; alice's nologin kept as the same program, not rewritten.
    expect(j.firewall).toEqual({ port: 22, state: ["NEW"] });
    expect(j.users.map((u) => [u.name, u.shell, u.keyOnly])).toEqual([
      ["alice", undefined, false],
      ["bob", "/bin/bash", false],
    ]);
  }
});

test("the first pulumi up with that config modifies no file anywhere, on any host", async () => {
  const before: Record<string, string> = {};
  for (const x of hosts) before[name(x)] = (await x.h.console(FINGERPRINT)).stdout;
  const file = path.join(p.dir, "Pulumi.adoptfleet.yaml");
  const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(file, "utf8"))?.[0];
  fs.writeFileSync(file, (salt ? salt + "\n" : "") + config);
  for (const x of hosts) await mark(x.h);
  const up = await ok(p.up(), "up");
  // Per host: component, group, 2 users (each with its jail), Match block, firewall rule; plus the stack.
  expect(summary(up.stdout)).toEqual({ create: 1 + 6 * hosts.length });
  for (const x of hosts) {
    expect({ host: name(x), touched: await touched(x.h) }).toEqual({ host: name(x), touched: [] });
    expect({ host: name(x), fp: (await x.h.console(FINGERPRINT)).stdout }).toEqual({ host: name(x), fp: before[name(x)] });
  }
});

test("after the documented hardening edits (an empty sshdDirectives: left behind), up hardens and everyone logs in", async () => {
  const file = path.join(p.dir, "Pulumi.adoptfleet.yaml");
  // The README's hardening: drop authorizedKeysFile, keyOnly: false, the null directive lines and the kept shells.
  let hard = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => !/^\s*(authorizedKeysFile: |keyOnly: false$|shell: |\S+: null$)/.test(l))
    .join("\n");
  expect(hard).toMatch(/^ {6}sshdDirectives:\n {6}\S/m); // the mapping really is left empty
  // And on the RHEL-style host, keep the ruleset saved where RHEL loads it at boot.
  const rhelJail = hard.indexOf("    - hosts:\n        host: rhel\n");
  const fw = hard.indexOf("      firewall:\n", rhelJail) + "      firewall:\n".length;
  const next = hard.indexOf("    - hosts:", rhelJail + 1);
  expect(rhelJail >= 0 && (next < 0 || fw < next)).toBe(true);
  hard = hard.slice(0, fw) + "        persist: true\n" + hard.slice(fw);
  fs.writeFileSync(file, hard);
  // IPv6 on the Debian 12 host now REJECTs by default: its opening (for every address) lacks the ip6tables twin, a
  // half-open door told at preview; `up --refresh` sees that family's drift and adds the twin.
  const bw = hosts.find((x) => x.h.name === "afl-bookworm")!.h;
  await bw.console("ip6tables -A INPUT -i lo -j ACCEPT && ip6tables -A INPUT -j REJECT");
  const pre = await ok(p.preview(), "hardening preview"); // warnings go to stderr
  for (const x of hosts) {
    const out = pre.stdout + pre.stderr;
    const at = out.indexOf(`on 127.0.0.1:${x.h.port}: half-open door: tcp port 22 is open for IPv4 only: this rule is for every address, but its IPv6 twin is missing from ip6tables INPUT`);
    const warned = at >= 0 && out.slice(at, at + 600).includes('the ip6tables rule "-A INPUT -j REJECT');
    expect({ host: name(x), warned }).toEqual({ host: name(x), warned: x.h === bw });
  }
  const up = await ok(p.up("--refresh"), "hardening up");
  expect((await bw.console("ip6tables -S INPUT")).stdout).toMatch(/--dport 22 .*sftp-jail:.*-j ACCEPT\n-A INPUT -j REJECT/);
  expect(summary(up.stdout).delete ?? 0).toBe(0);
  for (const x of hosts) {
    const h = x.h;
    for (const u of ["alice", "bob"]) {
      const r = await c.sftp(h, u, u, "ls -1 /upload\n");
      expect({ host: name(x), u, code: r.code }).toEqual({ host: name(x), u, code: 0 });
    }
    const inv = await c.sftp(h, "alice", "alice", "get /upload/invoice.csv " + path.join(p.dir, `inv-${name(x)}.csv`) + "\n");
    expect(inv.code).toBe(0);
    expect(fs.readFileSync(path.join(p.dir, `inv-${name(x)}.csv`), "utf8")).toBe("id;amount\n1;20\n");
    expect((await h.console("getent passwd bob alice | cut -d: -f7")).stdout).toBe(x.rhel ? "/usr/sbin/nologin\n/sbin/nologin\n" : "/usr/sbin/nologin\n/usr/sbin/nologin\n");
    expect((await c.ssh(h, "root", keyPath, "echo ok")).stdout.trim()).toBe("ok");
  }
  const rhel = hosts.find((x) => x.rhel)!.h;
  expect((await rhel.console("grep -- '--dport 22' /etc/sysconfig/iptables; ls /var/lib/sftp-jail/firewall")).stdout).toMatch(/-j ACCEPT[\s\S]*etc_sysconfig_iptables/);
  const pv = await ok(p.preview("--refresh"), "preview --refresh");
  expect(summary(pv.stdout)).toEqual({ same: 1 + 6 * hosts.length });
});
