/**
 * Lockout suite (issue 4): changes that pass `sshd -t` but would cut the operator off. Each `pulumi up` must fail
 * with an error that names the cause, the host must be back to its previous state, and a normal login must work.
 */
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject } from "./pulumi";

jest.setTimeout(15 * 60_000);

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
let c: Clients;

// sshd files by content; the firewall as iptables-save prints its rules (the backend `auto` picks here). Not nft's own
// listing: it shows packet counters, and the empty built-in chains iptables-nft re-creates on a restore.
const STATE = "cd /etc/ssh && sha256sum sshd_config sshd_config.d/* 2>/dev/null; iptables-save -t filter | grep -v '^[#:]'; true";
const ADMIN_RULES = [
  "iptables -A INPUT -i lo -j ACCEPT",
  "iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
  "iptables -A INPUT -j REJECT",
].join(" && ");

interface Scenario {
  title: string;
  risk: Record<string, unknown>;
  /** Host set-up before the attempt (out of band). */
  setup?: string;
  cause: RegExp;
}

const sshd = (name: string, match: object, directives: object) => ({ kind: "sshd", name, match, directives });
const fw = (name: string, rule: object) => ({ kind: "firewall", name, rule });

const scenarios: Scenario[] = [
  { title: "Match User root with ForceCommand internal-sftp", risk: sshd("rootsftp", { User: ["root"] }, { ForceCommand: "internal-sftp" }), cause: /ForceCommand internal-sftp would apply for root/ },
  { title: "ChrootDirectory applied to the operator", risk: sshd("rootjail", { User: ["root"] }, { ChrootDirectory: "/srv/jail" }), cause: /ChrootDirectory \/srv\/jail would apply for root/ },
  { title: "DenyUsers naming the operator", risk: sshd("denyroot", { all: true }, { DenyUsers: "nobody root" }), cause: /DenyUsers nobody root would apply for root/ },
  { title: "AllowGroups excluding the operator", risk: sshd("allowsftp", { all: true }, { AllowGroups: "sftp" }), cause: /AllowGroups sftp would not include any of its groups \(root\)/ },
  { title: "AllowUsers excluding the operator, by address", risk: sshd("allowalice", { Address: ["127.0.0.0/8"] }, { AllowUsers: "alice bob" }), cause: /AllowUsers alice bob would not include it/ },
  { title: "PubkeyAuthentication no for everyone", risk: sshd("nopubkey", { User: ["*"] }, { PubkeyAuthentication: "no" }), cause: /PubkeyAuthentication no would disable the way sftp-jail logs in/ },
  {
    title: "the operator's keys moved away",
    risk: sshd("nokeys", { User: ["root"] }, { AuthorizedKeysFile: "/nonexistent/%u" }),
    cause: /would alter what sshd allows root, an account sftp-jail does not jail: sshd would resolve authorizedkeysfile "\/nonexistent\/%u" for it .*sshd was not reloaded/,
  },
  // Changes the operator can still log in after, each granting or taking away something for an account sftp-jail does
  // not jail: refused before sshd reloads, whoever the account (plan/jail.ts ACCESS_KEYS).
  {
    title: "a partner's key file read for root",
    risk: sshd("rootkeys", { User: ["root"] }, { AuthorizedKeysFile: ".ssh/authorized_keys /etc/ssh/sftp-jail/authorized_keys/acme" }),
    cause: /would alter what sshd allows root, an account sftp-jail does not jail: sshd would resolve authorizedkeysfile "\.ssh\/authorized_keys \/etc\/ssh\/sftp-jail\/authorized_keys\/acme" for it/,
  },
  {
    title: "PermitTTY taken from everyone",
    risk: sshd("notty", { all: true }, { PermitTTY: "no" }),
    cause: /would alter what sshd allows root, an account sftp-jail does not jail: sshd would resolve permittty "no" for it/,
  },
  {
    title: "a partner's key file read for root from one address only",
    risk: sshd("rootkeysfrom", { User: ["root"], Address: ["203.0.113.5"] }, { AuthorizedKeysFile: ".ssh/authorized_keys /etc/ssh/sftp-jail/authorized_keys/acme" }),
    cause: /would alter what sshd allows root, an account sftp-jail does not jail: sshd would resolve authorizedkeysfile "[^"]*acme" for it \(sshd -T -C user=root,host=203\.0\.113\.5,addr=203\.0\.113\.5\)/,
  },
  {
    // Refused by the resource's check, at preview, before anything runs (and again by create).
    title: "a firewall DROP on the SSH port that would cut established sessions too",
    risk: fw("dropall", { port: 22, action: "DROP", position: "bottom" }),
    cause: /a DROP rule on tcp port 22 \(the port sshd listens on\) that is not limited to state NEW would cut established SSH sessions/,
  },
  {
    title: "a firewall DROP on the SSH port",
    risk: fw("dropssh", { port: 22, action: "DROP", state: ["NEW"], position: "bottom" }),
    cause: /would lock the operator out: a fresh login as root failed afterwards.*The change was reverted/,
  },
  {
    title: "a DROP placed above the operator's ACCEPT",
    setup: ADMIN_RULES,
    risk: fw("droptop", { port: 22, action: "DROP", state: ["NEW"], position: "top" }),
    cause: /would lock the operator out: a fresh login as root failed afterwards.*The change was reverted/,
  },
];

beforeAll(async () => {
  sb = await startSandbox(["lockout-1"]);
  h = sb.hosts[0];
  c = new Clients(sb.hosts);
  p = await PulumiProject.create("lockout", path.join(__dirname, "programs", "lockout"));
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

test.each(scenarios)("$title: up fails naming the cause, the host is unchanged, login works", async (s) => {
  if (s.setup) await h.console(s.setup);
  const before = (await h.console(STATE)).stdout;
  p.setConfig({ host: { port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath }, risk: s.risk });
  const up = await p.up();
  expect(up.code).not.toBe(0);
  expect((up.stdout + up.stderr).replace(/\s+/g, " ")).toMatch(s.cause);
  expect((await h.console(STATE)).stdout).toBe(before);
  expect((await h.console("ls /run/sftp-jail/ 2>/dev/null; true")).stdout).not.toMatch(/\.armed/);
  expect((await c.ssh(h, "root", sb.keyPath, "echo ok")).stdout.trim()).toBe("ok");
});
