/** Exact adoption of RHEL-style hand-made hosts: `-m state` rules, shells by resolution, empty config mappings. */
import { iptablesRule } from "../../provider/observe/iptables";
import { sameSpec } from "../../provider/plan/firewall";
import { realpathsFact, sameShell } from "../../provider/observe/facts";
import { fleetSchema } from "../../program/config";

describe("iptables -m state (RHEL-style rulesets)", () => {
  it("reads -m state --state NEW as the same match as -m conntrack --ctstate NEW", () => {
    const rhel = iptablesRule("-p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT".split(" "), "ipv4").spec;
    const ct = iptablesRule("-p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT".split(" "), "ipv4").spec;
    expect(rhel).toEqual({ family: "ipv4", protocol: "tcp", ports: [22], source: null, state: ["NEW"], action: "ACCEPT", extra: [] });
    expect(sameSpec(rhel, ct)).toBe(true);
  });
  it("keeps a negated state match as something it cannot express", () => {
    const s = iptablesRule("-p tcp -m state ! --state NEW -m tcp --dport 22 -j ACCEPT".split(" "), "ipv4").spec;
    expect(s.extra).toEqual(["!"]);
  });
});

describe("shells compared by what they resolve to", () => {
  // As the fact reads them on a merged-/usr Debian host.
  const f = { realpaths: realpathsFact([]).parse("/sbin/nologin\t/usr/sbin/nologin\n/usr/sbin/nologin\t/usr/sbin/nologin\n/bin/bash\t/usr/bin/bash\n/bin/false\t/usr/bin/false\n") };
  it("treats /sbin/nologin and /usr/sbin/nologin as one program on merged /usr", () => {
    expect(sameShell("/sbin/nologin", "/usr/sbin/nologin", f)).toBe(true);
    expect(sameShell("/usr/sbin/nologin", "/sbin/nologin", f)).toBe(true);
    expect(sameShell("/bin/bash", "/usr/bin/bash", f)).toBe(true);
  });
  it("tells different programs apart, and never equates two paths it could not resolve", () => {
    expect(sameShell("/bin/bash", "/usr/sbin/nologin", f)).toBe(false);
    expect(sameShell("/bin/false", "/sbin/nologin", f)).toBe(false);
    expect(sameShell("/opt/a", "/opt/b", f)).toBe(false);
    // Without merged /usr, /sbin/nologin is its own file.
    const split = { realpaths: { "/sbin/nologin": "/sbin/nologin", "/usr/sbin/nologin": "/usr/sbin/nologin" } };
    expect(sameShell("/sbin/nologin", "/usr/sbin/nologin", split)).toBe(false);
  });
});

describe("stack config: a key left empty by the hardening edits", () => {
  const fleet = (jail: Record<string, unknown>) => ({ hosts: [{ name: "h", connection: { host: "127.0.0.1" } }], jails: [{ group: { name: "sftponly" }, ...jail }] });
  it("accepts `sshdDirectives:` with nothing under it (YAML null) as no overrides", () => {
    const r = fleetSchema.safeParse(fleet({ sshdDirectives: null, firewall: null, users: [{ name: "a", keys: null, shell: "/sbin/nologin" }] }));
    expect(r.success).toBe(true);
    expect(r.data!.jails[0].sshdDirectives).toBeUndefined();
    expect(r.data!.jails[0].firewall).toBeUndefined();
    expect(r.data!.jails[0].users[0]).toMatchObject({ keys: [], shell: "/sbin/nologin" });
  });
  it("still refuses a mapping of the wrong kind", () => {
    expect(fleetSchema.safeParse(fleet({ sshdDirectives: "PermitTTY no" })).success).toBe(false);
    expect(fleetSchema.safeParse(fleet({ sshdDirectives: { PermitTTY: 1 } })).success).toBe(false);
  });
});
