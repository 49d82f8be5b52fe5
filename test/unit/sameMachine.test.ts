/**
 * Which connection change moves a resource to another machine (adapters/base.ts sameMachine): SshdMatchBlock and
 * FirewallRule replace their object then, and update it in place when only the address's spelling changed.
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
