/**
 * examples/single-host through the real CLI on a sandbox host: the README's program works as written.
 */
import * as path from "path";
import { Sandbox, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, ROOT, summary } from "./pulumi";

jest.setTimeout(10 * 60_000);

let sb: Sandbox;
let p: PulumiProject;
let c: Clients;

beforeAll(async () => {
  sb = await startSandbox(["example-1"]);
  c = new Clients(sb.hosts);
  p = await PulumiProject.create("example", path.join(ROOT, "examples", "single-host"));
  const h = sb.hosts[0];
  p.setConfig({ host: "127.0.0.1", port: h.port, hostKey: h.hostKey, sshKey: sb.privateKey, partners: { acme: await c.keygen("acme") } });
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  c?.cleanup();
  await sb?.stop();
});

test("examples/single-host converges, jails its partner, and is idempotent", async () => {
  const pv = await p.preview();
  expect(pv.code).toBe(0);
  // Quiet runs: nothing but the user's own resources may warn (not e.g. "using pulumi-resource-pulumi-nodejs from $PATH").
  expect(pv.stdout + pv.stderr).not.toMatch(/warning/i);
  const up = await p.up();
  expect(up.stdout + up.stderr).not.toMatch(/error:|warning/i);
  expect(up.code).toBe(0);
  const h = sb.hosts[0];
  const put = await c.sftp(h, "acme", "acme", `put ${c.file("x.txt", "x")} upload/x.txt\n`);
  expect(put.code).toBe(0);
  expect((await h.console("iptables -S INPUT")).stdout).toMatch(/--dport 22 .*sftp-jail:files-firewall/);
  const again = await p.preview("--refresh");
  expect(summary(again.stdout).create ?? 0).toBe(0);
  expect(summary(again.stdout).update ?? 0).toBe(0);
});
