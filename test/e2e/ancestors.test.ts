/**
 * Destroy leaves nothing of ours (issue 11, item 8): empty ancestors of ChrootDirs that sftp-jail created go with the
 * last ChrootDir under them, whoever is destroyed last; an ancestor that existed before stays. One sandbox host, a
 * program of plain ChrootDirs (test/e2e/programs/chroots):
 *
 * - d and e are created in one run under a new /srv/sj-two: both record it, whichever planned first; destroying d
 *   (a later run) leaves it for e, destroying e removes it.
 * - x is created under a new /srv/sj-anc/base in one run; y is added beside it in a later run, when the parent already
 *   exists (y's own plan creates nothing, but the host's record says sftp-jail made those parents, so y's state names
 *   them too); x depends on y, so x is destroyed first, and its shared parents (still holding y) are left to y's
 *   destroy in the same run, which removes them.
 * - p is created under /srv/sj-pre, which the admin made: it stays.
 *
 * And a jail inside another: removing the outer one (onDelete "delete") while the inner one is there is refused, and
 * the inner jail's files stay; once the inner one is gone, the outer one goes.
 */
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { PulumiProject } from "./pulumi";

jest.setTimeout(10 * 60_000);

let sb: Sandbox;
let h: SandboxHost;
let p: PulumiProject;

const TREE = "find /srv -xdev -printf '%p %u:%g %m\\n' | sort";
const d = { name: "d", path: "/srv/sj-two/d" };
const e = { name: "e", path: "/srv/sj-two/e" };
const x = { name: "x", path: "/srv/sj-anc/base/x" };
const y = { name: "y", path: "/srv/sj-anc/base/y" };
const pre = { name: "p", path: "/srv/sj-pre/p" };

function configure(chroots: Array<{ name: string; path: string; dependsOn?: string[]; onDelete?: "retain" | "delete" }>): void {
  p.setConfig({ host: { port: h.port, hostKey: h.hostKey, keyFile: sb.keyPath }, chroots });
}

/** The created ancestors each ChrootDir's state records. */
async function recorded(): Promise<Record<string, string[]>> {
  const state = JSON.parse(await p.exportState()) as { deployment: { resources?: Array<{ type: string; urn: string; outputs?: { createdAncestors?: string[] } }> } };
  return Object.fromEntries(
    (state.deployment.resources ?? []).filter((r) => r.type.endsWith("ChrootDir")).map((r) => [r.urn.split("::").pop()!, [...(r.outputs?.createdAncestors ?? [])].sort()]),
  );
}

beforeAll(async () => {
  sb = await startSandbox(["anc-1"]);
  [h] = sb.hosts;
  await h.console("mkdir -m 0755 /srv/sj-pre"); // the admin's: it must outlive every destroy
  p = await PulumiProject.create("anc", path.join(__dirname, "programs", "chroots"));
});

afterAll(async () => {
  await p?.destroy();
  p?.cleanup();
  await sb?.stop();
});

test("each created parent goes with the last chroot under it; the admin's parent stays", async () => {
  const pristine = (await h.console(TREE)).stdout;

  configure([d, e, x]);
  expect((await p.up()).code).toBe(0);
  expect(await recorded()).toEqual({ d: ["/srv/sj-two"], e: ["/srv/sj-two"], x: ["/srv/sj-anc", "/srv/sj-anc/base"] });

  // y joins an existing parent; x now depends on y (destroyed before it); d goes: its parent stays, e is in it.
  configure([y, { ...x, dependsOn: ["y"] }, e, pre]);
  expect((await p.up()).code).toBe(0);
  // Its parents existed when it was created, but sftp-jail made them (the host's record of what it created says so):
  // its own state names them too, so whichever of x and y goes last removes them, in this process or a later one.
  expect((await recorded()).y).toEqual(["/srv/sj-anc", "/srv/sj-anc/base"]);
  expect((await h.console("ls -A /srv/sj-two /srv/sj-anc/base")).stdout).toBe("/srv/sj-anc/base:\nx\ny\n\n/srv/sj-two:\ne\n");

  // One destroy: e takes /srv/sj-two; x leaves its parents to y, which removes them; /srv/sj-pre is the admin's.
  expect((await p.destroy()).code).toBe(0);
  expect((await h.console(TREE)).stdout).toBe(pristine);
  expect((await h.console("ls -A /srv")).stdout).toBe("sj-pre\n");
});

test("a jail inside another is never deleted with it: the outer one's removal is refused while the inner one is there", async () => {
  const outer = { name: "outer", path: "/srv/sj-nest/outer", onDelete: "delete" as const };
  const inner = { name: "inner", path: "/srv/sj-nest/outer/inner" };
  configure([outer, { ...inner, dependsOn: ["outer"] }]);
  expect((await p.up()).code).toBe(0);
  await h.console(`echo partner-data > ${inner.path}/report.csv`);

  // The outer one leaves the program: its rm -rf would take the inner jail's file.
  configure([inner]);
  const r = await p.up();
  expect(r.code).not.toBe(0);
  expect(r.stdout + r.stderr).toContain(`${outer.path} holds ${inner.path}, which sftp-jail created for another jail`);
  expect((await h.console(`cat ${inner.path}/report.csv`)).stdout).toBe("partner-data\n");

  // The inner one goes first (its file to the retained area; the outer jail, declared, is no parent it may remove),
  // then the outer one can.
  configure([outer]);
  expect((await p.up()).code).toBe(0);
  expect((await h.console(`ls -A ${outer.path}`)).stdout).toBe("");
  expect((await h.console("cat /var/lib/sftp-jail/retained/srv_sj-nest_outer_inner.*/report.csv")).stdout).toBe("partner-data\n");
  configure([]);
  expect((await p.up()).code).toBe(0);
  expect((await h.console("ls -A /srv")).stdout).not.toContain("sj-nest");
});
