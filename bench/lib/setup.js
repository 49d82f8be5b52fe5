// One-time set-up of the bench's tools, cached outside the repo in $SFTPJAIL_CACHE:
// - bench-venv/: a virtualenv with the current ansible-core and pyinfra from PyPI (reinstalled with --upgrade-tools);
// - bench-rootfs/: the sandbox rootfs plus Debian's python3. Ansible's modules need Python on the managed host (a
//   stock Debian server has it; the minbase sandbox image does not). sandbox.sh is pointed at it through
//   SFTPJAIL_CACHE, so ALL three tools run against the same python-enabled hosts; ours and pyinfra's never use it.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const CACHE = process.env.SFTPJAIL_CACHE || "/var/cache/sftp-jail";
const VENV = path.join(CACHE, "bench-venv");
const ROOTFS_CACHE = path.join(CACHE, "bench-rootfs");
const SANDBOX_SH = path.resolve(__dirname, "../../test/sandbox/sandbox.sh");

const log = (m) => console.error(`[bench] ${m}`);

function venv({ upgrade = false } = {}) {
  const py = path.join(VENV, "bin/python");
  const have = fs.existsSync(path.join(VENV, "bin/ansible-playbook")) && fs.existsSync(path.join(VENV, "bin/pyinfra"));
  if (!have || upgrade) {
    log(`${have ? "upgrading" : "creating"} ${VENV} (ansible-core, pyinfra from PyPI)`);
    if (!fs.existsSync(py)) execFileSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
    execFileSync(py, ["-m", "pip", "install", "-q", "--upgrade", "pip"], { stdio: "inherit" });
    execFileSync(py, ["-m", "pip", "install", "-q", "--upgrade", "ansible-core", "pyinfra"], { stdio: "inherit" });
  }
  const ver = (pkg) => execFileSync(py, ["-c", `import importlib.metadata as m; print(m.version("${pkg}"))`]).toString().trim();
  return { bin: path.join(VENV, "bin"), versions: { "ansible-core": ver("ansible-core"), pyinfra: ver("pyinfra"), python: execFileSync(py, ["-V"]).toString().trim() } };
}

/** Returns the SFTPJAIL_CACHE value that makes sandbox.sh start hosts from the python-enabled rootfs. */
function rootfs() {
  const base = execFileSync("bash", [SANDBOX_SH, "rootfs"]).toString().trim(); // builds once, cached
  const target = path.join(ROOTFS_CACHE, path.basename(base));
  if (fs.existsSync(path.join(target, "usr/bin/python3"))) return ROOTFS_CACHE;
  log(`making ${target}: the sandbox rootfs + python3 (for Ansible's modules), once`);
  fs.mkdirSync(ROOTFS_CACHE, { recursive: true });
  const tmp = path.join(ROOTFS_CACHE, `.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  execFileSync("cp", ["-a", base, tmp]);
  const resolv = path.join(tmp, "etc/resolv.conf");
  const saved = fs.readFileSync(resolv);
  fs.copyFileSync("/etc/resolv.conf", resolv);
  const inner =
    "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null" +
    " && apt-get clean && rm -rf /var/lib/apt/lists/*";
  try {
    execFileSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", `mount -t proc proc '${tmp}/proc' && chroot '${tmp}' sh -c '${inner}'`], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`could not install python3 into the bench rootfs (needs Debian's package mirror): ${e.message}`);
  }
  fs.writeFileSync(resolv, saved);
  fs.renameSync(tmp, target);
  return ROOTFS_CACHE;
}

module.exports = { CACHE, VENV, venv, rootfs, log };
