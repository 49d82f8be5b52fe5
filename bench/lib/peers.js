// The peers: Ansible (ansible-playbook, bench/ansible/site.yml) and pyinfra (bench/pyinfra/deploy.py), both from the
// bench's virtualenv. Each run gets its inputs generated from the same desired state as ours: an inventory, the
// variables, and a known_hosts file with the sandbox hosts' keys (host key checking stays on for both).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawn, execFileSync } = require("child_process");
const D = require("./desired");
const { KEY, knownHosts } = require("./sandbox");
const { sampleTree } = require("./procmem");

const BENCH = path.resolve(__dirname, "..");

function runTool(argv, { cwd, env, tag, logDir }) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { cwd, env });
    const mem = sampleTree(child.pid);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const memory = mem.stop();
      if (tag && logDir) fs.writeFileSync(path.join(logDir, `${tag}.log`), out);
      if (code !== 0) return reject(new Error(`${path.basename(argv[0])} failed (${code}):\n${out.slice(-4000)}`));
      resolve({ code, seconds, out, memory });
    });
  });
}

/** The desired state as plain data for the peers (same object ours gets as stack config). */
function jailData(users, firewall) {
  return {
    group: D.GROUP,
    chroot_base: D.CHROOT_BASE,
    keys_dir: D.KEYS_DIR,
    dropin: D.DROPIN,
    directives: D.DIRECTIVES,
    match_block: D.matchBlock(),
    users: users.map((u) => ({ name: u.name, uid: u.uid, key: u.key })),
    firewall: firewall ? D.FIREWALL : null,
  };
}

class Ansible {
  constructor(venvBin, { forks = 10, firewall = false, logDir } = {}) {
    this.name = "ansible";
    this.bin = venvBin;
    this.forks = forks;
    this.firewall = firewall;
    this.logDir = logDir;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-bench-ansible-"));
    this.cp = path.join(this.dir, "cp");
    fs.mkdirSync(this.cp);
    fs.mkdirSync(path.join(this.dir, "home"));
  }

  configure(hosts, users) {
    const kh = path.join(this.dir, "known_hosts");
    fs.writeFileSync(kh, knownHosts(hosts));
    // Inventory generator: one line per host.
    fs.writeFileSync(
      path.join(this.dir, "inventory.ini"),
      "[jail]\n" +
        hosts.map((h) => `${h.name} ansible_host=127.0.0.1 ansible_port=${h.port}`).join("\n") +
        `\n\n[jail:vars]\nansible_user=root\nansible_ssh_private_key_file=${KEY}\n`,
    );
    fs.writeFileSync(path.join(this.dir, "vars.json"), JSON.stringify(jailData(users, this.firewall), null, 1));
    fs.writeFileSync(
      path.join(this.dir, "ansible.cfg"),
      [
        "[defaults]",
        `forks = ${this.forks}`,
        "host_key_checking = True",
        "interpreter_python = /usr/bin/python3",
        "retry_files_enabled = False",
        "[ssh_connection]",
        "pipelining = True",
        `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${kh} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`,
        `control_path_dir = ${this.cp}`,
        "",
      ].join("\n"),
    );
    this.env = {
      ...process.env,
      ANSIBLE_CONFIG: path.join(this.dir, "ansible.cfg"),
      ANSIBLE_LOCAL_TEMP: path.join(this.dir, "home/tmp"),
      ANSIBLE_HOME: path.join(this.dir, "home"),
      ANSIBLE_NOCOLOR: "1",
      PATH: `${this.bin}:${process.env.PATH}`,
    };
  }

  run(extra, tag) {
    const argv = [path.join(this.bin, "ansible-playbook"), "-i", "inventory.ini", "-e", "@vars.json", ...extra, path.join(BENCH, "ansible/site.yml")];
    return runTool(argv, { cwd: this.dir, env: this.env, tag, logDir: this.logDir }).finally(() => this.closeMasters());
  }

  converge(tag) {
    return this.run([], tag).then((r) => ({ ...r, summary: recap(r.out) }));
  }

  check(tag) {
    return this.run(["--check", "--diff"], tag).then((r) => ({ ...r, summary: recap(r.out) }));
  }

  /** Ends the ControlPersist masters this run left (a later run, e.g. tomorrow's drift check, would not find them). */
  closeMasters() {
    for (const s of fs.readdirSync(this.cp)) {
      try {
        execFileSync("ssh", ["-o", `ControlPath=${path.join(this.cp, s)}`, "-O", "exit", "x"], { stdio: "ignore", timeout: 5000 });
      } catch {
        /* already gone */
      }
    }
  }

  cleanup() {
    this.closeMasters();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** PLAY RECAP totals: { ok, changed, failed, unreachable }. */
function recap(out) {
  const r = { ok: 0, changed: 0, failed: 0, unreachable: 0 };
  for (const m of out.matchAll(/ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/g)) {
    r.ok += +m[1];
    r.changed += +m[2];
    r.unreachable += +m[3];
    r.failed += +m[4];
  }
  return r;
}

class Pyinfra {
  constructor(venvBin, { firewall = false, logDir } = {}) {
    this.name = "pyinfra";
    this.bin = venvBin;
    this.firewall = firewall;
    this.logDir = logDir;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-bench-pyinfra-"));
  }

  configure(hosts, users) {
    const kh = path.join(this.dir, "known_hosts");
    fs.writeFileSync(kh, knownHosts(hosts));
    // Inventory generator: a Python inventory, one group `jail` with the desired state as group data.
    const hostData = (h) => ({
      ssh_hostname: "127.0.0.1",
      ssh_port: h.port,
      ssh_user: "root",
      ssh_key: KEY,
      ssh_known_hosts_file: kh,
      ssh_strict_host_key_checking: "yes",
    });
    const list = hosts.map((h) => [h.name, hostData(h)]);
    fs.writeFileSync(
      path.join(this.dir, "inventory.py"),
      "import json\n" +
        `jail = (\n    [(n, d) for n, d in json.loads(${JSON.stringify(JSON.stringify(list))})],\n` +
        `    {"jail": json.loads(${JSON.stringify(JSON.stringify(jailData(users, this.firewall)))})},\n)\n`,
    );
    this.env = { ...process.env, PATH: `${this.bin}:${process.env.PATH}`, PYINFRA_PROGRESS: "off", NO_COLOR: "1" };
  }

  run(extra, tag) {
    const argv = [path.join(this.bin, "pyinfra"), ...extra, "inventory.py", path.join(BENCH, "pyinfra/deploy.py")];
    return runTool(argv, { cwd: this.dir, env: this.env, tag, logDir: this.logDir });
  }

  converge(tag) {
    return this.run(["-y"], tag).then((r) => ({ ...r, summary: pyinfraSummary(r.out) }));
  }

  check(tag) {
    return this.run(["--dry"], tag).then((r) => ({ ...r, summary: pyinfraSummary(r.out) }));
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * pyinfra's tables: with --dry, "Detected changes" (Operation / Change / Conditional Change: "-" or "N (hosts)");
 * after a run, "Results" (Operation / Hosts / Success / Error / No Change). Returns per-host operation counts.
 */
function pyinfraSummary(out) {
  const r = { changes: 0, conditionalChanges: 0, success: 0, error: 0, noChange: 0 };
  const num = (c) => (c && c !== "-" ? Number.parseInt(c, 10) || 0 : 0);
  const table = (title) => {
    const i = out.indexOf(title);
    if (i < 0) return [];
    const lines = out.slice(i).split("\n").slice(2); // title, header
    const rows = [];
    for (const l of lines) {
      if (!l.trim()) break;
      rows.push(l.trim().split(/\s{2,}/));
    }
    return rows;
  };
  for (const row of table("--> Detected changes:")) {
    r.changes += num(row[1]);
    r.conditionalChanges += num(row[2]);
  }
  for (const row of table("--> Results:")) {
    r.success += num(row[2]);
    r.error += num(row[3]);
    r.noChange += num(row[4]);
  }
  return r;
}

module.exports = { Ansible, Pyinfra };
