/**
 * Fleet rollout in waves (issue 5): 10 sandbox hosts, a canary and waves of 3. The canary is made to fail; the later
 * waves must not be touched.
 */
import { Sandbox, startSandbox } from "../sandbox";
import { PulumiProject, summary } from "./pulumi";

jest.setTimeout(15 * 60_000);

let sb: Sandbox;
let p: PulumiProject;

beforeAll(async () => {
  sb = await startSandbox(Array.from({ length: 10 }, (_, i) => `wave-${i + 1}`));
  p = await PulumiProject.create("waves");
  p.setConfig({
    hosts: sb.hosts.map((h, i) => ({
      name: `w${i + 1}`,
      connection: { host: "127.0.0.1", port: h.port, user: "root", privateKeyFile: sb.keyPath, hostKey: h.hostKey },
    })),
    groups: [{ name: "sftp", gid: 2300 }],
    rollout: { canary: 1, waveSize: 3 },
  });
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  await sb?.stop();
});

test("the preview shows the waves, and no warning", async () => {
  const pv = await p.run(["preview"]); // the plain display lists the program's messages under Diagnostics
  expect(pv.code).toBe(0);
  expect(pv.stdout + pv.stderr).not.toMatch(/warning/i); // e.g. "using pulumi-resource-pulumi-nodejs from $PATH"
  expect(pv.stdout).toMatch(/rollout wave 0 \(canary\): w1$/m);
  expect(pv.stdout).toMatch(/rollout wave 1: w2, w3, w4$/m);
  expect(pv.stdout).toMatch(/rollout wave 3: w8, w9, w10$/m);
});

// One scenario in one test (the fix needs the failure before it), starting from nothing: it passes alone and in any order.
test("a failing canary halts the rollout before the next wave; once it is fixed, the waves roll out", async () => {
  expect((await p.destroy()).code).toBe(0);
  await sb.hosts[0].console("groupadd -g 999 sftp"); // the canary already has "sftp" with another gid: create fails
  const failed = await p.up();
  expect(failed.code).not.toBe(0);
  expect(failed.stdout).toMatch(/group "sftp" already exists with gid 999, not the requested 2300/);
  for (const h of sb.hosts.slice(1)) {
    expect((await h.console("getent group sftp || echo absent")).stdout.trim()).toBe("absent");
    // Not changed. Observed at most once, read-only: the checks of JailedUser, SftpGroup and ChrootDir look at their
    // host (operator envelope, ChrootDirectory rule) when the engine registers them, before their wave's dependencies
    // have run; no step reaches a later wave's host.
    expect(await h.connectionCount()).toBeLessThanOrEqual(1);
  }

  await sb.hosts[0].console("groupdel sftp");
  const up = await p.up();
  expect(up.code).toBe(0);
  expect(summary(up.stdout).create).toBe(10);
  for (const h of sb.hosts) expect((await h.console("getent group sftp")).stdout.trim()).toBe("sftp:x:2300:");
});
