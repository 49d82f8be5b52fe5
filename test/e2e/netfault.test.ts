/**
 * Network fault, end to end: the connection to a sandbox host is cut in the middle of a `pulumi up` that is applying
 * many resources (the host's forwarder on 127.0.0.1:<port> is killed, which drops the live SSH connection and refuses
 * new ones). The run must end promptly with errors that name the host and say what to do; once the path is back, a
 * plain re-run converges, and a third run finds nothing to do. A group the cut run created but its state never heard
 * of is taken back by the re-run through the host's record of what sftp-jail created, so destroy removes every group
 * (test/e2e/record.test.ts does the same for a whole jail whose checkpoint is lost).
 *
 * Fault injection: each `groupadd` on the host is slowed down (a wrapper in /usr/local/sbin, first on the PATH the
 * provider's scripts use), so the apply phase lasts seconds and the cut lands while steps are running.
 */
import * as os from "os";
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { PulumiProject, summary } from "./pulumi";
import { recordFact } from "../../provider/observe/record";
import { cutForwarder, processes, quiet, restoreForwarder } from "./netcut";

jest.setTimeout(5 * 60_000);

const PROGRAM = path.join(__dirname, "programs", "hostile");
const GROUPS = 20;

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
/** Groups on the host after the cut run that are not in the stack's state (made by a step the client never heard from). */
let unseen: string[] = [];
/** Output of the re-run after the cut. */
let reRun = "";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const groupsOnHost = async () => (await h.console("getent group | grep -c '^netg' || true")).stdout.trim();

/** Processes before the run: the host is settled when it is back to exactly these (the run's sessions all ended). */
let idle = "";

beforeAll(async () => {
  sb = await startSandbox(["sec-net"]);
  h = sb.hosts[0];
  await h.console("printf '#!/bin/sh\\nsleep 0.4\\nexec /usr/sbin/groupadd \"$@\"\\n' > /usr/local/sbin/groupadd && chmod 755 /usr/local/sbin/groupadd");
  p = await PulumiProject.create("netfault", PROGRAM);
  // Short dials so the failure is prompt; many groups so the apply phase lasts several seconds.
  const connection = { host: "127.0.0.1", port: h.port, user: "root", hostKey: h.hostKey, privateKey: "@keyFile", dialErrorLimit: 3, perDialTimeout: 5 };
  p.setConfig({
    keyFile: sb.keyPath,
    resources: Array.from({ length: GROUPS }, (_, i) => {
      const name = `netg${String(i).padStart(2, "0")}`;
      return { id: name, type: "SftpGroup", args: { name, gid: 2600 + i, connection } };
    }),
  });
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  await sb?.stop();
});

test("a connection cut mid-apply fails promptly, naming the host and what to do; the re-run converges", async () => {
  idle = await processes(h);
  const t0 = Date.now();
  const running = p.up();
  // Cut once a few groups exist: the apply phase is under way, most steps are still to come.
  let made = 0;
  for (let i = 0; i < 600 && made < 4; i++) {
    made = Number(await groupsOnHost());
    if (made < 4) await sleep(50);
  }
  expect(made).toBeGreaterThanOrEqual(4);
  cutForwarder(h);
  const cut = await running;
  const failedAfter = (Date.now() - t0) / 1000;

  expect(cut.code).not.toBe(0);
  const out = cut.stdout + cut.stderr;
  const errors = out.split("\n").filter((l) => /^\s+error: /.test(l) && !/update failed|preview failed/.test(l));
  expect(errors.length).toBeGreaterThan(0);
  // Every provider error names the host (login user, address, port), and says what went wrong on the wire.
  for (const e of errors) {
    expect(e).toContain(`root@127.0.0.1:${h.port}`);
    expect(e).toMatch(/the connection closed before the command finished|could not connect after 3 attempts: .*ECONNREFUSED|could not open an exec channel/);
  }
  expect(out).toMatch(/fix: check that the host is up and reachable over SSH \(network, firewall, sshd\), then run `pulumi up` again: it re-reads the host and applies only what is still missing/);
  const names = async () => (await h.console("getent group | grep '^netg' | cut -d: -f1 || true")).stdout.split("\n").filter(Boolean);
  await quiet(h, idle); // anything still running on the host finishes first (a slowed groupadd takes 0.4 s)
  const settled = await names();
  const inState = (JSON.parse(await p.exportState()).deployment.resources as { urn: string }[]).map((r) => r.urn.split("::").pop());
  unseen = settled.filter((g) => !inState.includes(g));
  const partial = settled.length;
  expect(partial).toBeLessThan(GROUPS); // really cut mid-apply
  expect(failedAfter).toBeLessThan(120); // no hang on a dead connection
  console.log(`cut after ${made} groups; up failed after ${failedAfter.toFixed(1)} s with ${partial}/${GROUPS} groups on the host, ${unseen.length} of them unknown to the state`);

  await restoreForwarder(h);
  const again = await p.up();
  reRun = again.stdout;
  expect(again.stderr).toBe("");
  expect(again.code).toBe(0);
  expect(Number(await groupsOnHost())).toBe(GROUPS);
  for (let i = 0; i < GROUPS; i += 7) {
    expect((await h.console(`getent group netg${String(i).padStart(2, "0")} | cut -d: -f3`)).stdout.trim()).toBe(String(2600 + i));
  }

  const third = await p.up();
  expect(third.code).toBe(0);
  expect(summary(third.stdout)).toEqual({ same: GROUPS + 1 });
});

test("after the cut no queued step ran on the host; the re-run took back what the cut run created, and destroy removes every group", async () => {
  // The groups the cut run's state does not know are those of the exec in flight: plans ready together share one
  // exec (apply/apply.ts), so at most the operations Pulumi runs at once (its default --parallel: 4 per CPU), plus the
  // one exec whose result was on its way back. Plans still queued in the provider never reached the host. Each step
  // recorded its group in the host's record of what sftp-jail created (same exec, no output in between), so the re-run
  // took them back as created, not adopted: destroy removes them like every other.
  expect(unseen.length).toBeLessThanOrEqual(4 * os.cpus().length + 1);
  for (const g of unseen) expect(reRun).toMatch(new RegExp(`SftpGroup "${g}" on 127\\.0\\.0\\.1:${h.port}: took back the group \\(gid \\d+\\) that sftp-jail created`));
  expect(reRun).not.toMatch(/adopted the existing group/);
  const d = await p.destroy();
  expect(d.code).toBe(0);
  expect(await groupsOnHost()).toBe("0");
  expect((await h.console(recordFact.command)).stdout).not.toMatch(/^g netg/m);
});
