import { HostFacts } from "../../provider/observe/facts";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { restoreFileSh } from "../../provider/plan/atomic";
import { Operator, blockContent, blockHome, foreignBlockProblem, planBlock, planBlockDelete, reloadScript } from "../../provider/plan/sshd";
import { BlockDesired, MAIN_CONFIG, REGION_BEGIN, REGION_END, blockOwner, blockPath, parseBlock, renderBlock, splitRegion, transformMain } from "../../provider/plan/sshdRender";
import { PlanError } from "../../provider/plan/types";
import { debian12 } from "./fixtures";

const OP: Operator = { user: "root", auth: ["publickey"] };
const JAIL: BlockDesired = {
  name: "jail",
  order: 50,
  match: { Group: ["sftp"] },
  directives: { ChrootDirectory: "%h", ForceCommand: "internal-sftp", X11Forwarding: "no", AllowTcpForwarding: "no" },
  subsystemInternalSftp: true,
};
const PATH = blockPath("jail", 50);

/** Debian 12 facts as captured, with our block files written and the main file as sftp-jail leaves it. */
function withBlocks(...blocks: BlockDesired[]): HostFacts {
  const f = debian12();
  for (const b of blocks) f.sshd.dropins.push({ path: blockPath(b.name, b.order), content: renderBlock(b) });
  if (blocks.some((b) => b.subsystemInternalSftp)) f.sshd.main!.content = transformMain(f.sshd.main!.content);
  return f;
}

/** The contents a step ships (base64-encoded: atomicWrite's printf, the Subsystem step's sj_put). */
function shipped(script: string): string[] {
  return [...script.matchAll(/(?:printf '%s'|sj_put) '?([A-Za-z0-9+/=]{8,})'?/g)].map((m) => Buffer.from(m[1], "base64").toString("utf8"));
}

describe("SshdMatchBlock planner", () => {
  it("creates: write the drop-in, settle Subsystem, verify (sshd -t + sshd -T -C for the operator), reload", () => {
    const p = planBlock(JAIL, debian12(), OP);
    expect(p.path).toBe(PATH);
    expect(p.steps.map((s) => s.description)).toEqual([
      "record which accounts sshd jails now, and what it allows every other one (sshd -T -C per account the change can affect)",
      `write ${PATH}`,
      "settle Subsystem sftp in sshd_config (internal-sftp while any block wants it)",
      "check the whole sshd configuration, the operator's access, every jailed account's jail and what every other account is allowed (sshd -t, sshd -T -C)",
      "reload sshd",
    ]);
    expect(shipped(p.steps[1].script)).toEqual([renderBlock(JAIL)]);
    // Both versions of the main file travel; the host picks one from the block files present under the lock.
    const main = debian12().sshd.main!.content;
    expect(shipped(p.steps[2].script).sort()).toEqual([main, transformMain(main)].sort());
    expect(p.steps[3].script).toContain("sshd -t");
    expect(p.steps[3].script).toContain("sshd -T -C");
    expect(p.steps[4].script).toBe("if [ -x /etc/init.d/ssh ]; then service ssh reload >/dev/null; else service sshd reload >/dev/null; fi");
    expect(p.revert.map((s) => s.description)).toEqual([
      "restore the previous block files",
      "restore the Subsystem sftp line of sshd_config",
      "check and reload sshd",
    ]);
    expect(p.revert[0].script).toBe(`rm -f ${PATH} ${PATH}.sftp-jail.bak`);
    expect(p.cleanup[0].script).toBe(`rm -f ${PATH}.sftp-jail.bak`);
  });

  it("plans nothing when the block and the Subsystem line are already in place", () => {
    expect(planBlock(JAIL, withBlocks(JAIL), OP).steps).toEqual([]);
  });

  it("rewrites a block edited by hand, restoring from the backup on revert", () => {
    const f = withBlocks(JAIL);
    f.sshd.dropins[0].content = f.sshd.dropins[0].content.replace("X11Forwarding no", "X11Forwarding yes");
    const p = planBlock(JAIL, f, OP);
    expect(shipped(p.steps[1].script)).toEqual([renderBlock(JAIL)]);
    expect(p.revert[0].script).toBe(`if [ -e ${PATH}.sftp-jail.bak ]; then ${restoreFileSh(`${PATH}.sftp-jail.bak`, PATH, "/etc/ssh/sshd_config.d")}; fi`);
  });

  it("moves the file when order changes", () => {
    const p = planBlock({ ...JAIL, order: 20 }, withBlocks(JAIL), OP, { name: "jail", order: 50 });
    expect(p.steps.slice(1, 3).map((s) => s.description)).toEqual([`remove ${PATH}`, `write ${blockPath("jail", 20)}`]);
  });

  it("deletes the block; the main file goes back only when no block wants internal-sftp", () => {
    const other: BlockDesired = { ...JAIL, name: "other", order: 60 };
    const p = planBlockDelete("jail", 50, withBlocks(JAIL, other), OP);
    expect(p.steps[1].description).toBe(`remove ${PATH}`);
    // Already gone and nothing left to settle: no change.
    expect(planBlockDelete("jail", 50, debian12(), OP).steps).toEqual([]);
    // Gone, but the main file still carries our edit (e.g. removed by hand): settle it.
    const leftover = debian12();
    leftover.sshd.main!.content = transformMain(leftover.sshd.main!.content);
    expect(planBlockDelete("jail", 50, leftover, OP).steps.length).toBeGreaterThan(0);
  });

  it("does not touch the main file for a block that does not want internal-sftp", () => {
    const p = planBlock({ ...JAIL, subsystemInternalSftp: false }, debian12(), OP);
    expect(p.steps.length).toBe(5);
    expect(planBlock({ ...JAIL, subsystemInternalSftp: false }, withBlocks({ ...JAIL, subsystemInternalSftp: false }), OP).steps).toEqual([]);
  });

  it("refuses what it cannot do safely, saying how to fix it", () => {
    // (An old OpenSSH or a configuration sshd -t already refuses are host preconditions: preconditions.test.ts.)
    const foreign = debian12();
    foreign.sshd.dropins.push({ path: "/etc/ssh/sshd_config.d/10-admin.conf", content: "Subsystem sftp /usr/lib/openssh/sftp-server\n" });
    try {
      planBlock(JAIL, foreign, OP);
      throw new Error("expected a refusal");
    } catch (e) {
      expect(e).toBeInstanceOf(PlanError);
      expect((e as PlanError).what).toContain("10-admin.conf");
      expect((e as PlanError).fix).toContain("subsystemInternalSftp: false");
    }

    expect(() => planBlock(JAIL, withBlocks({ ...JAIL, order: 10 }), OP)).toThrow(/already holds an sftp-jail block named "jail"/);
  });

  describe("a host whose sshd_config includes no drop-ins (RHEL 8 style)", () => {
    /** The plan's edit of the main file (its region). */
    const mainEdit = (p: { steps: ReadonlyArray<{ description: string; script: string }> }) => p.steps.find((s) => s.description.includes("sftp-jail region"))!;
    const noInclude = () => {
      const f = debian12();
      f.sshd.main!.content = f.sshd.main!.content.replace(/^Include .*\n/m, "");
      return f;
    };
    /** The facts after a plan's main-file edit and its Subsystem settle (what the next observation would read). */
    const afterEdit = (f: HostFacts, p: ReturnType<typeof planBlock>): HostFacts => {
      const main = shipped(mainEdit(p).script)[0];
      const wants = p.steps.some((s) => s.description.startsWith("settle")) && main.includes("wants Subsystem sftp internal-sftp");
      return { ...f, sshd: { ...f.sshd, main: { path: MAIN_CONFIG, content: wants ? transformMain(main) : main } } };
    };

    it("writes the block at the end of the main file between markers, nothing in sshd_config.d", () => {
      const f = noInclude();
      const p = planBlock(JAIL, f, OP);
      expect(p.path).toBe(PATH);
      expect(mainEdit(p).description).toMatch(/sftp-jail region at the end of \/etc\/ssh\/sshd_config/);
      expect(p.steps.some((s) => s.description.startsWith("write /etc/ssh/sshd_config.d"))).toBe(false);
      const main = shipped(mainEdit(p).script)[0];
      expect(main.startsWith(f.sshd.main!.content)).toBe(true);
      expect(main.slice(f.sshd.main!.content.length)).toBe(`${REGION_BEGIN}\n${renderBlock(JAIL)}${REGION_END}\n`);
      // The verify step still runs sshd -t and the operator's sshd -T -C before any reload.
      expect(p.steps.map((s) => s.description)).toContain("check the whole sshd configuration, the operator's access, every jailed account's jail and what every other account is allowed (sshd -t, sshd -T -C)");
    });

    it("is idempotent, reads drift from the region, and a second block joins the region in drop-in order", () => {
      const f = noInclude();
      const done = afterEdit(f, planBlock(JAIL, f, OP));
      expect(planBlock(JAIL, done, OP).steps).toEqual([]);
      // The region alone (the Subsystem line not yet settled) still counts as a block that wants internal-sftp.
      const regionOnly = { ...f, sshd: { ...f.sshd, main: { path: MAIN_CONFIG, content: shipped(mainEdit(planBlock(JAIL, f, OP)).script)[0] } } };
      expect(planBlock(JAIL, regionOnly, OP).steps.map((s) => s.description)).toContain("settle Subsystem sftp in sshd_config (internal-sftp while any block wants it)");
      expect(blockContent(done, PATH)).toBe(renderBlock(JAIL));
      const early = { ...JAIL, name: "early", order: 10, match: { Group: ["partners"] } };
      const two = shipped(mainEdit(planBlock(early, done, OP)).script)[0];
      expect(splitRegion(two).blocks.map((b) => b.path)).toEqual([blockPath("early", 10), PATH]);
    });

    it("removing the last block gives the main file back byte for byte, also without a final newline", () => {
      for (const tail of ["\n", ""]) {
        const f = noInclude();
        f.sshd.main!.content = f.sshd.main!.content.replace(/\n$/, "") + tail;
        const pristine = f.sshd.main!.content;
        const created = planBlock({ ...JAIL, subsystemInternalSftp: false }, f, OP);
        const del = planBlockDelete(JAIL.name, JAIL.order, afterEdit(f, created), OP);
        expect(shipped(mainEdit(del).script)[0]).toBe(pristine);
      }
    });

    it("keeps the admin's lines that were appended after the region as global lines, before the region", () => {
      const f = noInclude();
      const done = afterEdit(f, planBlock(JAIL, f, OP));
      done.sshd.main!.content += "PermitRootLogin prohibit-password\n";
      const redo = shipped(mainEdit(planBlock({ ...JAIL, directives: { ...JAIL.directives, X11Forwarding: "yes" } }, done, OP)).script)[0];
      expect(redo.indexOf("PermitRootLogin prohibit-password")).toBeLessThan(redo.indexOf(REGION_BEGIN));
      expect(redo.endsWith(`${REGION_END}\n`)).toBe(true);
    });

    it("uses the main file on OpenSSH 8.0/8.1 even with an Include (a Match in an Included file runs on before 8.2)", () => {
      const f = debian12();
      f.openssh = { ...f.openssh!, version: "8.0p1", major: 8, minor: 0 };
      expect(blockHome(f)).toBe("main");
      expect(blockHome(debian12())).toBe("dropin");
    });
  });

  describe("the stack that owns a block (two stacks, one block name, one host)", () => {
    const A = { ...JAIL, owner: "sftp-jail/site-a" };
    const B = { ...JAIL, owner: "sftp-jail/site-b" };

    it("records the stack in the block's header, a comment sshd and the drift parser ignore", () => {
      const text = renderBlock(A);
      expect(text.split("\n")[2]).toBe("# sftp-jail: stack sftp-jail/site-a");
      expect(blockOwner(text)).toBe("sftp-jail/site-a");
      expect(parseBlock(text)).toEqual(parseBlock(renderBlock(JAIL)));
    });

    it("refuses another stack's block of the same name, naming that stack, the file and the fix", () => {
      const f = withBlocks(A);
      const e = foreignBlockProblem(B.name, B.owner, f)!;
      expect(e.what).toBe(
        `${PATH} holds the SshdMatchBlock "jail" of stack sftp-jail/site-a, not of this stack (sftp-jail/site-b): two stacks writing one block would overwrite each other's Match block`,
      );
      expect(e.fix).toMatch(/give this SshdMatchBlock another name .*remove the block from stack sftp-jail\/site-a first/);
      expect(e.property).toBe("name");
      expect(() => planBlock(B, f, OP)).toThrow(/of stack sftp-jail\/site-a, not of this stack/);
      // Another order is the same block name: refused the same way.
      expect(() => planBlock({ ...B, order: 10 }, f, OP)).toThrow(/of stack sftp-jail\/site-a/);
      // Its own block is its own; a block written before stacks were recorded is no one's (adopted as before).
      expect(foreignBlockProblem(A.name, A.owner, f)).toBeUndefined();
      expect(foreignBlockProblem(B.name, B.owner, withBlocks(JAIL))).toBeUndefined();
      expect(planBlock({ ...B, directives: { ...B.directives, X11Forwarding: "yes" } }, withBlocks(JAIL), OP).steps.length).toBeGreaterThan(0);
    });

    it("guards the write on the host too: the drop-in must not have become another stack's since it was read", () => {
      const p = planBlock(A, debian12(), OP);
      expect(p.steps[0].description).toBe(`check that ${PATH} is not another stack's block`);
      const t = run(p.steps[0].script.replace(/\/etc\/ssh\/sshd_config\.d/g, dir), renderBlock(B));
      expect(t.code).toBe(1);
      expect(t.stderr).toContain("is now another stack's sftp-jail block; nothing was changed");
      expect(run(p.steps[0].script.replace(/\/etc\/ssh\/sshd_config\.d/g, dir), renderBlock(A)).code).toBe(0);
      expect(run(p.steps[0].script.replace(/\/etc\/ssh\/sshd_config\.d/g, dir), renderBlock(JAIL)).code).toBe(0);
      expect(planBlock(JAIL, debian12(), OP).steps[0].description).not.toMatch(/another stack/); // no owner, no guard
    });

    it("finds another stack's block in the main file's region too (hosts without Include)", () => {
      const f = debian12();
      f.sshd.main!.content = f.sshd.main!.content.replace(/^Include .*\n/m, "") + `${REGION_BEGIN}\n${renderBlock(A)}${REGION_END}\n`;
      expect(foreignBlockProblem(B.name, B.owner, f)?.what).toMatch(/^the sftp-jail region of \/etc\/ssh\/sshd_config \(block .*\) holds the SshdMatchBlock "jail" of stack sftp-jail\/site-a/);
    });

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sj-owner-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    /** Runs a guard script with the block file holding `content`. */
    function run(script: string, content: string): { code: number; stderr: string } {
      fs.writeFileSync(path.join(dir, path.basename(PATH)), content);
      const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
      return { code: r.status ?? 1, stderr: r.stderr };
    }
  });

  it("reloads sshd the way the host runs it", () => {
    const f = debian12();
    expect(reloadScript({ ...f, serviceManager: "systemd" })).toContain("systemctl reload ssh.service");
    expect(reloadScript({ ...f, serviceManager: "none" })).toContain('kill -HUP "$(cat /run/sshd.pid)"');
  });
});
