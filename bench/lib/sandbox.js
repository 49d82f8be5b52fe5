// Sandbox hosts for the bench (test/sandbox/sandbox.sh), and the SSH traffic each tool caused, read from every host's
// own sshd log (sshd runs with LogLevel VERBOSE): a connection is a "Connection from" line, a session (an exec, a
// shell or the sftp subsystem, one per channel) is a "Starting session:" line. The log is read through
// /proc/<init pid>/root, so counting adds no traffic of its own.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFile } = require("child_process");

const ROOT = path.resolve(__dirname, "../..");
const SANDBOX_SH = path.join(ROOT, "test/sandbox/sandbox.sh");
const KEY = path.join(process.env.SFTPJAIL_SANDBOX_STATE || "/run/sftp-jail-sandbox", "keys/id_ed25519");

/** SFTPJAIL_CACHE for sandbox.sh: where it looks for the rootfs (the bench points it at the python-enabled copy). */
let rootfsCache;
function useRootfsCache(dir) {
  rootfsCache = dir;
}

function sh(args, timeoutMs = 300_000) {
  const env = rootfsCache ? { ...process.env, SFTPJAIL_CACHE: rootfsCache } : process.env;
  return new Promise((resolve, reject) => {
    execFile("bash", [SANDBOX_SH, ...args], { env, maxBuffer: 64 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`sandbox.sh ${args.slice(0, 3).join(" ")} … failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Starts (recreates) hosts; returns [{name, port, pid, hostKey, logFile}]. */
async function up(names) {
  const out = [];
  // sandbox.sh starts hosts in parallel inside one call; chunks keep one call's argv and runtime modest.
  for (let i = 0; i < names.length; i += 25) {
    const json = JSON.parse(await sh(["up", "--json", "--fresh", ...names.slice(i, i + 25)]));
    for (const h of json) {
      out.push({ name: h.name, port: h.port, pid: h.pid, hostKey: h.hostKeyEd25519, hostKeyEcdsa: h.hostKeyEcdsa, logFile: `/proc/${h.pid}/root/var/log/sshd.log` });
    }
  }
  return out;
}

async function down(names) {
  if (names.length) await sh(["down", ...names]);
}

function consoleCmd(name, cmd) {
  return sh(["console", name, cmd]);
}

/** Byte offsets of every host's sshd log now (the start of a phase). */
function marks(hosts) {
  return hosts.map((h) => {
    try {
      return fs.statSync(h.logFile).size;
    } catch {
      return 0;
    }
  });
}

/** Connections and sessions per host since `since` (from {@link marks}): totals and per-host arrays. */
function traffic(hosts, since) {
  const conns = [];
  const sessions = [];
  const kinds = {};
  hosts.forEach((h, i) => {
    let text = "";
    try {
      const fd = fs.openSync(h.logFile, "r");
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - since[i]));
      fs.readSync(fd, buf, 0, buf.length, since[i]);
      fs.closeSync(fd);
      text = buf.toString("utf8");
    } catch {
      /* host gone: count nothing */
    }
    let c = 0;
    let s = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("Connection from ")) c++;
      const m = /Starting session: (\w+)/.exec(line);
      if (m) {
        s++;
        kinds[m[1]] = (kinds[m[1]] || 0) + 1;
      }
    }
    conns.push(c);
    sessions.push(s);
  });
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  const n = hosts.length || 1;
  return {
    connectionsPerHost: +(sum(conns) / n).toFixed(2),
    sessionsPerHost: +(sum(sessions) / n).toFixed(2),
    connectionsMax: Math.max(0, ...conns),
    sessionsMax: Math.max(0, ...sessions),
    sessionKinds: kinds,
  };
}

/** known_hosts lines for the hosts (ed25519 keys as sandbox.sh reported them). */
function knownHosts(hosts) {
  return hosts.flatMap((h) => [`[127.0.0.1]:${h.port} ${h.hostKey}`, `[127.0.0.1]:${h.port} ${h.hostKeyEcdsa}`]).join("\n") + "\n";
}

module.exports = { KEY, ROOT, useRootfsCache, up, down, consoleCmd, marks, traffic, knownHosts };
