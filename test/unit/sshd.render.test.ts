import {
  BlockDesired,
  blockPath,
  findSubsystem,
  isTransformed,
  mainIncludes,
  parseBlock,
  parseBlockPath,
  renderBlock,
  transformMain,
  untransformMain,
} from "../../provider/plan/sshdRender";
import { debian12 } from "./fixtures";

/** Debian 12's /etc/ssh/sshd_config exactly as captured from a sandbox host. */
const DEBIAN_MAIN = debian12().sshd.main!.content;

const JAIL: BlockDesired = {
  name: "jail",
  order: 50,
  match: { Group: ["sftp", "!admins"], Address: ["192.0.2.0/24"] },
  directives: { X11Forwarding: "no", ForceCommand: "internal-sftp", ChrootDirectory: "%h", AllowTcpForwarding: "no" },
  subsystemInternalSftp: true,
};

describe("SshdMatchBlock rendering", () => {
  it("renders a drop-in with the header, the Match line and directives in a fixed order", () => {
    expect(renderBlock(JAIL)).toBe(
      [
        '# Managed by sftp-jail: SshdMatchBlock "jail" (order 50). Hand edits are reported as drift and',
        "# reverted by `pulumi up --refresh`; remove the resource rather than this file.",
        "# sftp-jail: wants Subsystem sftp internal-sftp",
        "Match Group sftp,!admins Address 192.0.2.0/24",
        "\tChrootDirectory %h",
        "\tForceCommand internal-sftp",
        "\tAllowTcpForwarding no",
        "\tX11Forwarding no",
        "",
      ].join("\n"),
    );
    expect(renderBlock({ ...JAIL, match: { all: true }, subsystemInternalSftp: false })).not.toContain("wants Subsystem");
    expect(renderBlock({ ...JAIL, match: { all: true } })).toContain("\nMatch all\n");
    expect(renderBlock({ ...JAIL, match: { User: ["a"], LocalPort: 2222 } })).toContain("\nMatch User a LocalPort 2222\n");
  });

  it("reads its own rendering back to the same fields", () => {
    const p = parseBlock(renderBlock(JAIL));
    expect(p).toEqual({ match: JAIL.match, directives: JAIL.directives, wantsSubsystem: true });
    const q = parseBlock(renderBlock({ ...JAIL, match: { User: ["bob"], LocalPort: 2222 }, subsystemInternalSftp: false }));
    expect(q.match).toEqual({ User: ["bob"], LocalPort: 2222 });
    expect(q.wantsSubsystem).toBe(false);
  });

  it("reads hand edits as drift: changed values, keyword case, keywords we do not manage, removed lines", () => {
    const edited = renderBlock(JAIL)
      .replace("\tX11Forwarding no", "  x11forwarding   yes")
      .replace("\tAllowTcpForwarding no\n", "")
      .replace("\tChrootDirectory %h", "\tChrootDirectory %h\n# a comment\n\tPermitOpen any");
    expect(parseBlock(edited).directives).toEqual({
      ChrootDirectory: "%h",
      PermitOpen: "any",
      ForceCommand: "internal-sftp",
      X11Forwarding: "yes",
    });
  });

  it("names files so glob order is order, then name", () => {
    expect(blockPath("jail", 5)).toBe("/etc/ssh/sshd_config.d/05-sftp-jail-jail.conf");
    expect(parseBlockPath("/etc/ssh/sshd_config.d/05-sftp-jail-jail.conf")).toEqual({ name: "jail", order: 5 });
    // Backups, temp files and the admin's files are not blocks.
    expect(parseBlockPath("/etc/ssh/sshd_config.d/05-sftp-jail-jail.conf.sftp-jail.bak")).toBeUndefined();
    expect(parseBlockPath("/etc/ssh/sshd_config.d/50-cloud-init.conf")).toBeUndefined();
    const sorted = [blockPath("b", 50), blockPath("a", 50), blockPath("z", 9)].sort();
    expect(sorted.map((p) => parseBlockPath(p)!.name)).toEqual(["z", "a", "b"]);
  });
});

describe("the main file's Subsystem line", () => {
  it("replaces Debian's sftp-server line and restores it byte for byte", () => {
    expect(findSubsystem(DEBIAN_MAIN)).toEqual({ line: expect.any(Number), command: "/usr/lib/openssh/sftp-server" });
    const t = transformMain(DEBIAN_MAIN);
    expect(t).not.toBe(DEBIAN_MAIN);
    expect(isTransformed(t)).toBe(true);
    expect(findSubsystem(t)?.command).toBe("internal-sftp");
    expect(t.split("\n").filter((l) => /^\s*Subsystem/i.test(l))).toEqual(["Subsystem sftp internal-sftp"]);
    expect(untransformMain(t)).toBe(DEBIAN_MAIN);
    expect(transformMain(t)).toBe(t);
  });

  it("keeps hand edits elsewhere in the file when it restores the line", () => {
    const t = transformMain(DEBIAN_MAIN).replace("PrintMotd no", "PrintMotd yes");
    expect(untransformMain(t)).toBe(DEBIAN_MAIN.replace("PrintMotd no", "PrintMotd yes"));
  });

  it("inserts the line at the top when there is none, and removes it again", () => {
    const noSub = "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nMatch User x\n\tSubsystem sftp /bin/false\n";
    expect(findSubsystem(noSub)).toBeUndefined(); // inside a Match it is not a Subsystem definition
    const t = transformMain(noSub);
    expect(t.split("\n")[1]).toBe("Subsystem sftp internal-sftp");
    expect(untransformMain(t)).toBe(noSub);
  });

  it("leaves a file that already says internal-sftp alone", () => {
    const m = "Subsystem sftp internal-sftp -l INFO\n";
    expect(transformMain(m)).toBe(m);
  });
});

describe("Include detection", () => {
  const path = blockPath("jail", 50);
  it("finds Debian's Include /etc/ssh/sshd_config.d/*.conf", () => {
    expect(mainIncludes(DEBIAN_MAIN, path)).toBe(true);
  });
  it("accepts relative and quoted globs, refuses an Include after a Match or one that does not match", () => {
    expect(mainIncludes('Include "sshd_config.d/*.conf"\n', path)).toBe(true);
    expect(mainIncludes("Match User x\nInclude /etc/ssh/sshd_config.d/*.conf\n", path)).toBe(false);
    expect(mainIncludes("Include /etc/ssh/sshd_config.d/*.cfg\n", path)).toBe(false);
    expect(mainIncludes("UsePAM yes\n", path)).toBe(false);
  });
});
