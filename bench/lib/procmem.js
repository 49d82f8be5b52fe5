// Peak memory of a process tree, sampled from /proc every `intervalMs`: the dynamic provider process (node running
// @pulumi/pulumi's cmd/dynamic-provider, started by pulumi as pulumi-resource-pulumi-nodejs) and the whole tree.
// Per process the kernel's own high-water mark (VmHWM) is used, so a peak between two samples is not missed.
"use strict";
const fs = require("fs");

function readStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const num = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s) || [])[1] || 0);
    return { ppid: num("PPid"), rssKiB: num("VmRSS"), hwmKiB: num("VmHWM") };
  } catch {
    return undefined;
  }
}

const TICK = 100; // USER_HZ: clock ticks per second in /proc/PID/stat (100 on Linux)

/** utime + stime of a process, in ticks. */
function cpuTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/** A short label for a process: what part of a run it is. */
function role(cmd) {
  if (/cmd\/dynamic-provider\/index\.js/.test(cmd)) return "provider";
  if (/cmd\/run\/index\.js/.test(cmd)) return "program";
  if (/pulumi-language-nodejs/.test(cmd)) return "language-host";
  if (/(^|\/)pulumi\s/.test(cmd)) return "engine";
  if (/ansible|pyinfra|python/.test(cmd)) return "python";
  if (/(^|\/)(ssh|sftp)\s/.test(cmd)) return "ssh-client";
  return "other";
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/**
 * CPU of every child this (bench) process has reaped, and their reaped descendants: utime+stime summed by the kernel
 * (cutime + cstime of /proc/self/stat), in ticks. Exact, unlike sampling: a process that lived between two samples,
 * or the CPU a process used after the last sample, is counted. Pulumi waits for its plugins and language host, so
 * engine, program and provider are all in it once the CLI is reaped.
 */
function reapedChildTicks() {
  const s = fs.readFileSync("/proc/self/stat", "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[13]) + Number(f[14]);
}

/**
 * Starts sampling the tree under `rootPid` (with `excludeRoot`, only its descendants: the bench sampling its own
 * children); `stop()`, called once the measured processes were reaped, returns { providerPeakMiB, treePeakMiB,
 * cpuSeconds: { total (exact), machine (the whole machine's busy CPU over the run), <role> (sampled) } }.
 */
/**
 * Busy CPU of the whole machine so far, in ticks (every CPU's user+nice+system+irq+softirq+steal from /proc/stat):
 * what a run costs including the sandbox hosts' own processes (sshd, the shells and commands a tool runs there), which
 * are not in any tool's process tree.
 */
function machineBusyTicks() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  return f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0);
}

function sampleTree(rootPid, { intervalMs = 50, excludeRoot = false } = {}) {
  const cpu0 = reapedChildTicks();
  const machine0 = machineBusyTicks();
  const provider = new Map(); // pid -> peak KiB
  let treePeak = 0;
  const cpu = new Map(); // pid -> { ticks, role }
  const children = (pid) => {
    const out = [];
    let tasks = [];
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      return out;
    }
    for (const t of tasks) {
      try {
        for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ")) if (c) out.push(Number(c));
      } catch {
        /* gone */
      }
    }
    return out;
  };
  const tick = () => {
    // Walk the tree from the root through /proc/PID/task/*/children (cheap: no scan of all of /proc).
    let tree = 0;
    const todo = [rootPid];
    const seen = new Set();
    while (todo.length) {
      const pid = todo.pop();
      if (seen.has(pid)) continue;
      seen.add(pid);
      if (excludeRoot && pid === rootPid) {
        todo.push(...children(pid));
        continue;
      }
      const st = readStatus(pid);
      if (!st) continue;
      tree += st.rssKiB;
      const t = cpuTicks(pid);
      if (t !== undefined) {
        const c = cpu.get(pid);
        if (c) {
          c.ticks = Math.max(c.ticks, t);
          c.hwmKiB = Math.max(c.hwmKiB, st.hwmKiB, st.rssKiB);
        } else cpu.set(pid, { ticks: t, role: role(cmdline(pid)), hwmKiB: Math.max(st.hwmKiB, st.rssKiB) });
      }
      if (provider.has(pid) || /cmd\/dynamic-provider\/index\.js/.test(cmdline(pid))) {
        provider.set(pid, Math.max(provider.get(pid) ?? 0, st.hwmKiB, st.rssKiB));
      }
      todo.push(...children(pid));
    }
    treePeak = Math.max(treePeak, tree);
  };
  const timer = setInterval(tick, intervalMs);
  tick();
  return {
    stop() {
      clearInterval(timer);
      const peak = Math.max(0, ...provider.values());
      const cpuSeconds = {};
      for (const c of cpu.values()) cpuSeconds[c.role] = +((cpuSeconds[c.role] ?? 0) + c.ticks / TICK).toFixed(2);
      cpuSeconds.total = +((reapedChildTicks() - cpu0) / TICK).toFixed(2);
      // The whole machine over the run: the tool, the hosts' side of its work, and anything else running (loadavg).
      cpuSeconds.machine = +((machineBusyTicks() - machine0) / TICK).toFixed(2);
      // Where the memory is: each process's own high-water mark, summed per role (a diagnosis, not the tree's peak).
      const peakMiBByRole = {};
      for (const c of cpu.values()) peakMiBByRole[c.role] = +((peakMiBByRole[c.role] ?? 0) + c.hwmKiB / 1024).toFixed(1);
      return {
        providerPeakMiB: +(peak / 1024).toFixed(1),
        treePeakMiB: +(treePeak / 1024).toFixed(1),
        providerProcesses: provider.size,
        cpuSeconds,
        peakMiBByRole,
      };
    },
  };
}

module.exports = { sampleTree };
