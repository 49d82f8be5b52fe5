/**
 * A resource's host as the adapters see it (adapters/base.ts): which connection change moves a resource to another
 * machine (sameMachine: SshdMatchBlock and FirewallRule replace their object then, and update it in place when only
 * the address's spelling changed), and a host the preview cannot reach (warned about once, naming it).
 */
import { sameMachine } from "../../provider/adapters/base";
import { diff as blockDiff } from "../../provider/adapters/sshdMatchBlock";
import { diff as ruleDiff } from "../../provider/adapters/firewallRule";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm348UCZ7ssSrHpUT+uO4T88k70bT+WDyMpZmU8my9M";
const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDZNw0DjWke+B1i7lM2cz9+rQmp0zpLbQiCkwHtrWV1c";
const at = (host: string, hostKey?: string, port = 22) => ({ host, port, user: "root", ...(hostKey ? { hostKey } : {}) });

test("the same address, or the same pinned host key, is the same machine", () => {
  expect(sameMachine(at("10.0.0.5"), at("10.0.0.5"))).toBe(true);
  expect(sameMachine(at("127.0.0.1", KEY), at("localhost", `${KEY} root@files1`))).toBe(true);
  expect(sameMachine(at("127.0.0.1", KEY), at("localhost", OTHER))).toBe(false);
  // Without a pin an address change may be another machine: replaced, as before.
  expect(sameMachine(at("127.0.0.1"), at("localhost"))).toBe(false);
  expect(sameMachine(at("10.0.0.5", KEY, 22), at("10.0.0.5", KEY, 2222))).toBe(true);
  expect(sameMachine(at("10.0.0.5"), at("10.0.0.5", undefined, 2222))).toBe(false);
});

test("SshdMatchBlock and FirewallRule update in place when only the address's spelling changed", async () => {
  const block = { name: "g", order: 50, match: { Group: ["sftp"] }, directives: {}, subsystemInternalSftp: true };
  const moved = await blockDiff("b", { ...block, connection: at("127.0.0.1", KEY) } as never, { ...block, connection: at("localhost", KEY) });
  expect(moved).toMatchObject({ changes: true, replaces: [] });
  const other = await blockDiff("b", { ...block, connection: at("127.0.0.1", KEY) } as never, { ...block, connection: at("10.9.9.9", OTHER) });
  expect(other.replaces).toEqual(["connection"]);
  const rule = { name: "r", backend: "auto", protocol: "tcp", port: 22, state: ["NEW"], action: "ACCEPT", position: "beforeReject", persist: false };
  expect((await ruleDiff("r", { ...rule, connection: at("127.0.0.1", KEY) } as never, { ...rule, connection: at("localhost", KEY) })).replaces).toEqual([]);
  expect((await ruleDiff("r", { ...rule, connection: at("127.0.0.1") } as never, { ...rule, connection: at("localhost") })).replaces).toEqual(["connection"]);
});

test("a host that cannot be reached at preview is warned about once, naming it; the checks go on without failing", async () => {
  const net = require("net");
  const { lookAtHost } = require("../../provider/adapters/base");
  const { log } = require("../../provider/util/log");
  const { closeAll } = require("../../provider/connection/pool");
  // A port nothing listens on: bound, then closed.
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  const warn = jest.spyOn(log, "warn").mockImplementation(() => undefined);
  try {
    const conn = { host: "127.0.0.1", port, user: "root", password: "x", hostKey: KEY, dialErrorLimit: 1 };
    const a = await lookAtHost(conn, 'JailedUser "a"', {});
    const b = await lookAtHost(conn, 'JailedUser "b"', {});
    expect(a).toEqual({ failures: [] });
    expect(b).toEqual({ failures: [] });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(new RegExp(`^sftp-jail: could not look at 127\\.0\\.0\\.1:${port} during this preview \\([\\s\\S]*\\): its resources are shown as the program declares them`));
  } finally {
    warn.mockRestore();
    closeAll();
  }
});
