/**
 * Host preconditions: what a host must already offer before sftp-jail changes anything on it. Judged ONCE per host,
 * from the snapshot's facts, before the first change of any resource there (apply/hostGate.ts enforces it for every
 * resource type), so a host that cannot take the whole jail gets no part of it: no group, account, key file, chroot,
 * Match block or firewall rule is made on a host whose sshd_config already fails `sshd -t`, whose sudo does not give
 * root, that lacks a command the steps use, or whose OpenSSH is too old. Pure: facts in, problems out.
 */
import { FIREWALL_TOOLS, HOST_TOOLS, HostFacts } from "../observe/facts";
import { MIN_OPENSSH, blockHome, older } from "./sshd";
import { DROPIN_DIR, MAIN_CONFIG } from "./sshdRender";

/** The backend a FirewallRule targets: the host must have it (only hosts with a FirewallRule need one). */
export type FirewallNeed = "auto" | "iptables" | "iptables-legacy" | "nftables";

/** What the resources of a host need beyond what every change needs. */
export interface HostNeeds {
  firewall?: Iterable<FirewallNeed>;
}

/** One failed precondition: its name (as the error says it), what was found, and what to do. */
export interface HostProblem {
  precondition: string;
  what: string;
  fix: string;
}

/** A tool is there only when the probe said so: a section that did not print it (a failed probe) counts as missing. */
const has = (f: HostFacts, tool: string) => f.tools?.[tool] === true;

/** Every precondition the host fails, in a fixed order (empty: sftp-jail may change this host). */
export function hostProblems(f: HostFacts, needs: HostNeeds = {}): HostProblem[] {
  const out: HostProblem[] = [];
  const op = f.operator;
  if (!op) {
    out.push({
      precondition: "root access",
      what: "the host snapshot did not say who sftp-jail logs in as, so no change can be judged against the operator's own account",
      fix: "check that `id`, `getent` and `awk` work on the host for the connection's user, then run the command again",
    });
  } else if (op.runAs !== "root") {
    out.push({
      precondition: "root access",
      what: `commands run as ${op.runAs}, not root (${op.via === "sudo" ? `sudo for ${op.user}` : `login as ${op.user}`})`,
      fix: `connect as root, or let ${op.user} become root with sudo (e.g. "${op.user} ALL=(ALL) NOPASSWD:ALL" in /etc/sudoers.d/${op.user})`,
    });
  }
  const missing = Object.keys(HOST_TOOLS).filter((t) => !has(f, t));
  if (missing.length) {
    const pkgs = [...new Set(missing.map((t) => HOST_TOOLS[t]))];
    out.push({
      precondition: "commands",
      what: `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not on root's PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)`,
      fix: `install ${pkgs.join("; ")}`,
    });
  }
  const o = f.openssh;
  if (!o || !o.sshdPath) {
    out.push({ precondition: "OpenSSH", what: "sshd (the OpenSSH server) was not found", fix: "install openssh-server" });
  } else if (older(o, MIN_OPENSSH)) {
    out.push({
      precondition: "OpenSSH version",
      what: `OpenSSH ${o.version} is too old: sftp-jail needs ${MIN_OPENSSH.major}.${MIN_OPENSSH.minor} or newer (its lockout and jail checks rely on sshd -T -C)`,
      fix: `upgrade openssh-server to ${MIN_OPENSSH.major}.${MIN_OPENSSH.minor} or newer`,
    });
  }
  if (o?.sshdPath && !f.sshd.main) {
    out.push({ precondition: "sshd_config", what: `${MAIN_CONFIG} is missing`, fix: "reinstall openssh-server or restore the file" });
  } else if (o?.sshdPath && !f.sshd.valid) {
    out.push({
      precondition: "sshd -t",
      what: `the current sshd configuration is already invalid (sshd -t: ${f.sshd.error.replace(/\s+/g, " ").trim() || "no message"})`,
      fix: "fix the configuration by hand until `sshd -t` passes on the host (sftp-jail only changes a host whose sshd accepts its configuration), then run pulumi up again",
    });
  }
  for (const need of new Set(needs.firewall ?? [])) {
    const p = firewallProblem(need, f);
    if (p) out.push(p);
  }
  return out;
}

/** Why the host cannot take a FirewallRule with this backend, or undefined. */
export function firewallProblem(need: FirewallNeed, f: HostFacts): HostProblem | undefined {
  const fw = f.firewall;
  const iptables = fw.iptablesVariant !== null;
  const legacy = fw.iptablesVariant === "legacy" || has(f, "iptables-legacy");
  const nft = has(f, "nft") && fw.nft !== null;
  const problem = (what: string, fix: string): HostProblem => ({ precondition: `firewall backend ${need}`, what, fix });
  switch (need) {
    case "nftables":
      return nft ? undefined : problem(has(f, "nft") ? "`nft list ruleset` fails (no nf_tables in the kernel?)" : "nft is not installed", "install nftables, or give the FirewallRule the backend the host has");
    case "iptables":
      return iptables ? undefined : problem("iptables is not installed (or `iptables -V` fails)", "install iptables, or give the FirewallRule backend nftables");
    case "iptables-legacy":
      return legacy ? undefined : problem("iptables-legacy is not installed", "install iptables (which brings iptables-legacy), or give the FirewallRule the backend the host has");
    case "auto":
      return iptables || legacy || nft ? undefined : problem("neither iptables nor nft is installed", "install nftables (Debian/Ubuntu: apt-get install nftables) or iptables");
  }
}

/** Where this host's Match blocks live: both layouts are supported; the host's is known before anything changes. */
export function sshdLayout(f: HostFacts): string {
  return blockHome(f) === "dropin"
    ? `${MAIN_CONFIG} includes ${DROPIN_DIR}/*.conf: one drop-in per Match block`
    : `${MAIN_CONFIG} includes no ${DROPIN_DIR}${f.openssh && f.openssh.major === 8 && f.openssh.minor < 2 ? " (or OpenSSH is older than 8.2)" : ""}: Match blocks go in its sftp-jail region`;
}

/**
 * The failed preconditions as one message and one fix (each names its precondition). `when`: refusing a change
 * (nothing was changed) or warning at preview (pulumi up will change nothing there).
 */
export function describeHostProblems(problems: HostProblem[], when: "change" | "preview"): { what: string; fix: string } {
  const one = problems.length === 1;
  const list = problems.map((p, i) => `${one ? "" : `(${i + 1}) `}${p.precondition}: ${p.what}`).join("; ");
  const fix = problems.map((p, i) => `${one ? "" : `(${i + 1}) `}${p.fix}`).join("; ");
  const failed = one ? "fails a precondition" : `fails ${problems.length} preconditions`;
  const consequence =
    when === "change"
      ? "so sftp-jail changes nothing on it: no resource of this host is created, updated or deleted until it is fixed (nothing was changed)"
      : "so `pulumi up` will change nothing on it: every resource of this host will fail before touching it (use `pulumi up --continue-on-error` to converge the other hosts)";
  return { what: `the host ${failed}, ${consequence}: ${list}`, fix };
}
