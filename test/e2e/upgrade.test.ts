/**
 * One resource per jailed user: SftpJailHost's JailedUser owns its jail (`chroot`) where it used to have a ChrootDir
 * beside it. A stack made the old way upgrades in one `pulumi up` that moves nothing: the JailedUser takes the jail
 * over, and the ChrootDir the program no longer declares is deleted from the state only (the program declares a jail
 * at its path again, adapters/declared.ts), even with onDelete "delete". A JailedUser replaced with the same home (the
 * account renamed) keeps the jail and its files the same way; destroy still removes the jail as onDelete says. One sandbox
 * host, test/e2e/programs/upgrade (the user's upload goes through sftp, as a partner's would).
 */
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { Clients } from "./clients";
import { PulumiProject, summary } from "./pulumi";

jest.setTimeout(10 * 60_000);

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;
let clients: Clients;
let key: string;

const HOME = "/srv/sftp/alice";
const JAIL = `stat -c '%n %i %U:%G %a' ${HOME} ${HOME}/upload`;
const RETAINED = "ls -A /var/lib/sftp-jail/retained 2>/dev/null; true";

function configure(v: { shape: "split" | "owned"; user?: string; onDelete?: "retain" | "delete" }): void {
  p.setConfig({ host: { port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath }, key, ...v });
}

async function ok(run: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await run;
  expect(r.stdout + r.stderr).not.toMatch(/error:/);
  expect(r.code).toBe(0);
  return r.stdout;
}

/** The types of the resources in the stack's state, by name. */
async function inState(): Promise<Record<string, { type: string; outputs: Record<string, unknown> }>> {
  const s = JSON.parse(await p.exportState()) as { deployment: { resources?: Array<{ type: string; urn: string; outputs?: Record<string, unknown> }> } };
  return Object.fromEntries((s.deployment.resources ?? []).map((r) => [r.urn.split("::").pop()!, { type: r.type.split(":").pop()!, outputs: r.outputs ?? {} }]));
}

beforeAll(async () => {
  sb = await startSandbox(["upg-1"]);
  [h] = sb.hosts;
  clients = new Clients(sb.hosts);
  key = await clients.keygen("alice");
  p = await PulumiProject.create("upg", path.join(__dirname, "programs", "upgrade"));
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  clients?.cleanup();
  await sb?.stop();
});

test("a stack with a ChrootDir beside its JailedUser upgrades to one JailedUser owning the jail: nothing moves, the partner's file stays", async () => {
  configure({ shape: "split", onDelete: "delete" });
  await ok(p.up());
  expect((await inState())["alice-chroot"]?.type).toBe("ChrootDir");
  const put = await clients.sftp(h, "alice", "alice", `put ${clients.file("report.csv", "q3 figures\n")} upload/report.csv\n`);
  expect(put.code).toBe(0);
  const jail = (await h.console(JAIL)).stdout;

  configure({ shape: "owned", onDelete: "delete" });
  const up = await ok(p.up());
  expect(summary(up)).toMatchObject({ update: 1, delete: 1 });
  expect(up).toMatch(new RegExp(`ChrootDir "${HOME}" on 127\\.0\\.0\\.1:${h.port}: left the jail ${HOME} and its files in place: this program declares it again`));
  expect(up).not.toMatch(/retained files/);
  // The same directories (inodes, owners, modes), the file where the partner put it, nothing retained.
  expect((await h.console(JAIL)).stdout).toBe(jail);
  expect((await h.console(`cat ${HOME}/upload/report.csv`)).stdout).toBe("q3 figures\n");
  expect((await h.console(RETAINED)).stdout).toBe("");
  const state = await inState();
  expect(state["alice-chroot"]).toBeUndefined();
  expect(state["alice"].outputs.chroot).toMatchObject({ onDelete: "delete", subdirs: [{ path: "upload", owner: "alice" }] });
  // The partner still reads it over sftp, and the next check shows no change.
  const get = await clients.sftp(h, "alice", "alice", "ls upload\n");
  expect(get.stdout).toContain("report.csv");
  const pv = await p.preview("--refresh");
  expect(pv.code).toBe(0);
  expect(summary(pv.stdout)).not.toHaveProperty("update");
  expect(summary(pv.stdout)).not.toHaveProperty("delete");
  expect(summary(pv.stdout)).not.toHaveProperty("create");
});

test("drift of the owned jail shows on its JailedUser, field by field, and up puts it back", async () => {
  await h.console(`chmod 0775 ${HOME}`);
  const pv = await p.preview("--refresh");
  expect(pv.stdout).toMatch(/alice\][\s\S]*?~ chroot\s*:[\s\S]*?~ mode\s*: "0775" => "0755"/);
  await ok(p.up("--refresh"));
  expect((await h.console(`stat -c %a ${HOME}`)).stdout.trim()).toBe("755");
});

test("a JailedUser replaced with the same home (the account renamed) keeps the jail and the files in it", async () => {
  const jail = (await h.console(`stat -c '%n %i' ${HOME}`)).stdout;
  configure({ shape: "owned", onDelete: "delete", user: "carol" });
  const up = await ok(p.up());
  expect(summary(up)).toMatchObject({ replace: 1 });
  expect(up).toMatch(new RegExp(`JailedUser "alice" on 127\\.0\\.0\\.1:${h.port}: left the jail ${HOME} and its files in place`));
  expect((await h.console(`stat -c '%n %i' ${HOME}`)).stdout).toBe(jail);
  expect((await h.console(`cat ${HOME}/upload/report.csv; stat -c %U ${HOME}/upload; getent passwd alice; true`)).stdout).toBe("q3 figures\ncarol\n");
  expect((await h.console(RETAINED)).stdout).toBe("");
  expect((await clients.sftp(h, "carol", "alice", "ls upload\n")).stdout).toContain("report.csv");
});

test("destroy removes the jail as onDelete says (delete), then the account", async () => {
  await ok(p.destroy());
  expect((await h.console(`ls -A /srv/sftp 2>/dev/null; getent passwd alice; true`)).stdout).toBe("");
});
