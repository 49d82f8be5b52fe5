/**
 * Operator-envelope suite (issue 8, invariants 1 and 2): through the real CLI, every resource type aimed at the
 * account sftp-jail logs in as — its name, groups, home and key files — plus privileged groups and login shells, for
 * a root operator and for a sudo operator (opsudo, whose sudo asks for a password). Each attempt is refused at
 * preview and at `up`, naming the cause; the host stays byte-identical; login and sudo keep working. Then account
 * changes reverted exactly by the dead-man timer, and hosts broken by hand: every command says what it found.
 */
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, RunResult } from "./pulumi";

jest.setTimeout(40 * 60_000);

let sb: Sandbox;
let h: SandboxHost;
let c: Clients;
const projects: PulumiProject[] = [];
const refused: PulumiProject[] = [];
const PROGRAM = path.join(__dirname, "programs", "operator");

/** Everything the operator depends on, by content and metadata; and no leftover of a guarded change. */
const STATE = [
  "cd / && sha256sum etc/passwd etc/group etc/shadow etc/gshadow etc/sudoers etc/sudoers.d/* etc/ssh/sshd_config etc/ssh/sshd_config.d/* 2>/dev/null",
  // sudo itself drops .sudo_as_admin_successful in a home on first use (Debian); it is not the provider's doing.
  "find /root /home /srv /etc/ssh -xdev ! -name .sudo_as_admin_successful -printf '%p %u:%g %m %s\\n' 2>/dev/null | sort",
  "find /root/.ssh /home/*/.ssh -type f -exec sha256sum {} + 2>/dev/null | sort",
  // what a change leaves there (dead-man timers, saved account lines) must be gone; the host lock file stays
  "ls -A /run/sftp-jail 2>/dev/null | grep -vx host.lock",
  "true",
].join("; ");
const ACCOUNTS = "cd /etc && sha256sum passwd shadow group gshadow";

const text = (r: RunResult) => (r.stdout + r.stderr).replace(/\s+/g, " ");
const user = (name: string, args: Record<string, unknown>) => ({ kind: "user", name, args: { name, group: "users", home: `/srv/sftp/${name}`, ...args } });
const group = (name: string, args: Record<string, unknown> = {}) => ({ kind: "group", name, args: { name, ...args } });
const chroot = (p: string, args: Record<string, unknown> = {}) => ({ kind: "chroot", name: p.replace(/\W/g, "_"), args: { path: p, ...args } });
/** The Match block that jails these users (a JailedUser is refused unless sshd jails it after its change). */
const jailOf = (...users: string[]) => ({
  kind: "block",
  name: `jail-${users.join("-")}`,
  args: {
    name: `jail-${users.join("-")}`,
    match: { User: users },
    directives: {
      ChrootDirectory: "%h",
      ForceCommand: "internal-sftp",
      AuthorizedKeysFile: "/etc/ssh/sftp-jail/authorized_keys/%u",
      AllowTcpForwarding: "no",
      AllowStreamLocalForwarding: "no",
      AllowAgentForwarding: "no",
      X11Forwarding: "no",
      PermitTunnel: "no",
      PermitTTY: "no",
      GatewayPorts: "no",
      PermitUserRC: "no",
    },
  },
});

interface Operator {
  user: string;
  home: string;
  /** Host config of the test program. */
  host(): Record<string, unknown>;
  /** Proves login and sudo still work: prints the uid root commands run as. */
  rootCheck(): Promise<string>;
}
const operators: Record<"root" | "opsudo", Operator> = {
  root: {
    user: "root",
    home: "/root",
    host: () => ({ port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath, user: "root" }),
    rootCheck: async () => (await c.ssh(h, "root", sb.keyPath, "id -u")).stdout.trim(),
  },
  opsudo: {
    user: "opsudo",
    home: "/home/opsudo",
    host: () => ({ port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath, user: "opsudo", sudoPassword: sb.sudoPassword }),
    rootCheck: async () => (await c.ssh(h, "opsudo", sb.keyPath, `printf '%s\\n' '${sb.sudoPassword}' | sudo -S -p '' id -u`)).stdout.trim(),
  },
};

interface Attempt {
  title: string;
  resources: object[];
  cause: RegExp;
}

/** The same attacks, aimed at whichever operator logs in. */
function attempts(op: Operator): Attempt[] {
  const u = op.user;
  const accountCause = u === "root" ? /name must not be root/ : new RegExp(`would change the account ${u}, and ${u}, the account sftp-jail logs in as`);
  const homeCause = u === "root" ? /must not be inside \/root \(a system directory\)/ : new RegExp(`would change ${op.home}, the home of ${u}`);
  return [
    { title: "a JailedUser named after the operator, keeping its home", resources: [user(u, { home: u === "root" ? "/srv/sftp/root" : op.home })], cause: accountCause },
    { title: "a JailedUser named after the operator, with a new home", resources: [user(u, { home: `/srv/sftp/${u}-new` })], cause: accountCause },
    {
      title: "an SftpGroup renumbering the operator's primary group",
      resources: [group(u, { gid: 4242 })],
      cause: u === "root" ? /name must not be root: it grants administrative rights/ : new RegExp(`would change the group ${u}, which ${u}`),
    },
    {
      title: "a JailedUser joining the operator's primary group",
      resources: [user("alice", { extraGroups: [u] })],
      cause: u === "root" ? /must not be root: it grants administrative rights/ : new RegExp(`would add a member to the group ${u}, which ${u}`),
    },
    { title: "a ChrootDir on the operator's home", resources: [chroot(op.home)], cause: u === "root" ? /path must be at least two levels deep/ : homeCause },
    { title: "a ChrootDir on the operator's key directory", resources: [chroot(`${op.home}/.ssh`, { fixAncestors: true })], cause: homeCause },
    { title: "a ChrootDir below the home, repairing its ancestors' ownership", resources: [chroot(`${op.home}/jail`, { fixAncestors: true })], cause: homeCause },
    { title: "a JailedUser in the sudo group", resources: [user("alice", { extraGroups: ["sudo"] })], cause: /must not be sudo: it grants administrative rights/ },
    { title: "a JailedUser in a group the host's sudoers names", resources: [user("alice", { extraGroups: ["ops"] })], cause: /group ops is named in the host's sudoers \(.*\/etc\/sudoers\.d\/ops/ },
    { title: "an SftpGroup the host's sudoers names", resources: [group("ops")], cause: /group ops is named in the host's sudoers/ },
    { title: "a JailedUser with a login shell", resources: [user("alice", { shell: "/bin/bash" })], cause: /shell \/bin\/bash resolves to \/usr\/bin\/bash, which is not nologin or false/ },
    { title: "a JailedUser whose 'nologin' is bash behind a symlink", resources: [user("alice", { shell: "/tmp/nologin" })], cause: /shell \/tmp\/nologin resolves to \/usr\/bin\/bash/ },
  ];
}

beforeAll(async () => {
  sb = await startSandbox(["operator-1"]);
  h = sb.hosts[0];
  c = new Clients(sb.hosts);
  // A group sudoers grants rights to, and a "nologin" that is really bash.
  await h.console("groupadd ops && printf '%%ops ALL=(ALL) ALL\\n' > /etc/sudoers.d/ops && chmod 0440 /etc/sudoers.d/ops && ln -s /bin/bash /tmp/nologin");
});

afterAll(async () => {
  for (const p of projects) {
    await p.destroy();
    p.cleanup();
  }
  for (const p of refused) p.cleanup();
  c?.cleanup();
  await sb?.stop();
});

async function project(stack: string): Promise<PulumiProject> {
  const p = await PulumiProject.create(stack, PROGRAM);
  projects.push(p);
  return p;
}

/** Runs `f` over `items`, at most `n` at a time, keeping the order of the results. */
async function pool<T, R>(items: T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  }));
  return out;
}

describe.each(["root", "opsudo"] as const)("operator %s", (name) => {
  let p: PulumiProject;
  // Every attempt is refused, so none may change the host: they run side by side, each in its own stack (a preview,
  // then an up), and the host is compared once before and once after all of them.
  const runs = new Map<string, { preview: RunResult; up: RunResult }>();
  let before = "";
  let after = "";
  beforeAll(async () => {
    p = await project(`envelope-${name}`);
    const op = operators[name];
    before = (await h.console(STATE)).stdout;
    await pool(attempts(op), 4, async (a) => {
      // Refused, so never destroyed (an attempt that got through fails its test anyway): only its directory goes.
      const q = await PulumiProject.create(`envelope-${name}-${a.title.replace(/\W+/g, "-").slice(0, 40)}`, PROGRAM);
      refused.push(q);
      q.setConfig({ host: op.host(), resources: a.resources });
      const preview = await q.preview();
      runs.set(a.title, { preview, up: await q.up() });
    });
    after = (await h.console(STATE)).stdout;
  });

  test.each(attempts(operators[name]))("$title: refused at preview and up naming the cause; host unchanged; login and sudo work", async (a) => {
    const { preview, up } = runs.get(a.title)!;
    expect(preview.code).not.toBe(0);
    expect(text(preview)).toMatch(a.cause);
    expect(up.code).not.toBe(0);
    expect(text(up)).toMatch(a.cause);
    expect(after).toBe(before);
    expect(await operators[name].rootCheck()).toBe("0");
  });

  test("the same resources aimed elsewhere are applied (the refusals are not blanket), and destroyed", async () => {
    const op = operators[name];
    const before = (await h.console(STATE)).stdout;
    p.setConfig({
      host: op.host(),
      resources: [group("sftpok"), chroot("/srv/sftp/bob"), jailOf("bob", "dave"), user("bob", { shell: "/sbin/nologin" }), user("dave", { shell: "/bin/bash", allowLoginShell: true })],
    });
    const up = await p.up();
    expect(text(up)).not.toMatch(/error:/);
    expect(up.code).toBe(0);
    expect((await h.console("getent passwd bob dave | cut -d: -f1,7")).stdout.trim().split("\n")).toEqual(["bob:/sbin/nologin", "dave:/bin/bash"]);
    expect((await p.destroy()).code).toBe(0);
    // Destroy keeps the shared key directory (other users' key files may live there): only it may be new.
    const keysDir = (s: string) => s.split("\n").filter((l) => !l.startsWith("/etc/ssh/sftp-jail")).join("\n");
    expect(keysDir((await h.console(STATE)).stdout)).toBe(keysDir(before));
    expect(await op.rootCheck()).toBe("0");
  });
});

test("an account change that is not confirmed in time is reverted host-side, exactly (dead-man timer)", async () => {
  const p = await project("account-revert");
  // A hand-made account with a login shell, a password hash, and its own group: adopting it changes all three.
  await h.console("useradd --create-home --uid 1500 --shell /bin/bash carol && echo 'carol:Carol-pw-1' | chpasswd");
  const before = (await h.console(ACCOUNTS)).stdout;
  const shadowBefore = (await h.console("grep '^carol:' /etc/shadow")).stdout;
  // The block that jails carol first, confirmed normally (the pause below would make its own confirmation late too).
  p.setConfig({ host: { ...operators.opsudo.host(), revertAfterSeconds: 10 }, resources: [jailOf("carol")] });
  expect((await p.up()).code).toBe(0);
  p.setConfig({ host: { ...operators.opsudo.host(), revertAfterSeconds: 10 }, resources: [jailOf("carol"), user("carol", {})] });
  p.env.SFTPJAIL_TEST_PAUSE_BEFORE_CONFIRM_MS = "16000";
  let up: RunResult;
  try {
    up = await p.up();
  } finally {
    delete p.env.SFTPJAIL_TEST_PAUSE_BEFORE_CONFIRM_MS;
  }
  expect(up.code).not.toBe(0);
  expect(text(up)).toMatch(/the change of account carol was not confirmed within revertAfterSeconds \(10s\): the host's dead-man timer reverted it/);
  expect((await h.console(ACCOUNTS)).stdout).toBe(before);
  expect((await h.console("grep '^carol:' /etc/shadow")).stdout).toBe(shadowBefore);
  expect((await h.console("ls -A /run/sftp-jail | grep -c '^accounts-' || true")).stdout.trim()).toBe("0");
  // Confirmed in time, the same change stays: nologin, key-only, in the group.
  const ok = await p.up();
  expect(ok.code).toBe(0);
  expect((await h.console("getent passwd carol | cut -d: -f7; grep '^carol:' /etc/shadow | cut -d: -f2; id -Gn carol")).stdout.split("\n").slice(0, 3)).toEqual(["/usr/sbin/nologin", "*", "carol users"]);
  expect((await h.console("ls -A /run/sftp-jail | grep -c '^accounts-' || true")).stdout.trim()).toBe("0");
  expect(await operators.opsudo.rootCheck()).toBe("0");
});

describe("a host whose operator access was broken by hand: every command says what it found", () => {
  interface Break {
    title: string;
    user: "operator" | "opsudo";
    breakIt: string;
    repair: string;
    found: RegExp;
  }
  const breaks: Break[] = [
    { title: "the operator's shell is nologin", user: "operator", breakIt: "usermod --shell /usr/sbin/nologin operator", repair: "usermod --shell /bin/bash operator", found: /login as operator works, but operator's shell is (\/usr\/sbin\/)?nologin/ },
    { title: "sudo asks for a password it was not given", user: "operator", breakIt: "mv /etc/sudoers.d/operator /root/operator.sudoers", repair: "mv /root/operator.sudoers /etc/sudoers.d/operator", found: /login as operator works but sudo asks for a password it was not given/ },
    { title: "sudo is missing", user: "operator", breakIt: "mv /usr/bin/sudo /usr/bin/sudo.off", repair: "mv /usr/bin/sudo.off /usr/bin/sudo", found: /login as operator works, but sudo is not installed on the host/ },
    { title: "the operator is not in sudoers", user: "opsudo", breakIt: "gpasswd -d opsudo sudo", repair: "gpasswd -a opsudo sudo", found: /login as opsudo works, but opsudo may not use sudo/ },
    { title: "sudo's password changed", user: "opsudo", breakIt: "echo 'opsudo:Not-the-configured-one-7' | chpasswd", repair: "", found: /login as opsudo works but sudo refused the password in connection\.sudo\.password/ },
  ];
  const stacks: Partial<Record<Break["user"], PulumiProject>> = {};

  beforeAll(async () => {
    for (const u of ["operator", "opsudo"] as const) {
      const p = await project(`broken-${u}`);
      const host = u === "opsudo" ? operators.opsudo.host() : { port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath, user: "operator" };
      p.setConfig({ host, resources: [group(`diag${u}`)] });
      const up = await p.up();
      if (up.code !== 0) throw new Error(`set-up up failed:\n${up.stdout}\n${up.stderr}`);
      stacks[u] = p;
    }
  });

  test.each(breaks)("$title", async (b) => {
    const p = stacks[b.user]!;
    await h.console(b.breakIt);
    try {
      for (const [cmd, run] of [
        ["preview", () => p.preview()],
        ["up", () => p.up()],
        ["refresh", () => p.run(["refresh", "--yes", "--skip-preview"])],
        ["destroy", () => p.destroy()],
      ] as const) {
        const r = await run();
        expect(`${cmd}: ${r.code === 0 ? "succeeded" : "failed"}`).toBe(`${cmd}: failed`);
        expect(text(r)).toMatch(b.found);
        expect(text(r)).not.toMatch(/must be root or have sudo rights/);
      }
    } finally {
      await h.console(b.repair || `printf 'opsudo:%s\\n' '${sb.sudoPassword}' | chpasswd`);
    }
    // Repaired, the stack works again (and the group is still there: nothing was half-done).
    expect((await h.console(`getent group diag${b.user} | cut -d: -f1`)).stdout.trim()).toBe(`diag${b.user}`);
    expect((await p.preview()).code).toBe(0);
  });
});
