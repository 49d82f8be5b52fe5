/**
 * Hostile input, end to end: every row of the hostile-input table (test/e2e/programs/hostile/cases.ts) goes through
 * the real `pulumi preview` against a real sandbox host, and each must be refused with a message that names its
 * field, before any SSH connection: the host's sshd sees no connection during the whole suite.
 *
 * Pulumi stops a preview at the first invalid resource but prints every failure of that resource, so rows are packed
 * into one resource per preview where their fields differ (cases.ts `batches`), and previews run three at a time.
 */
import * as path from "path";
import { Sandbox, SandboxHost, startSandbox } from "../sandbox";
import { CASES, HostileCase, ResourceType, batches, compose } from "./programs/hostile/cases";
import { PulumiProject, RunResult } from "./pulumi";

jest.setTimeout(5 * 60_000);

const PROGRAM = path.join(__dirname, "programs", "hostile");
const LANES = 3;

/** One failure as the CLI printed it. */
interface Reported {
  type: string;
  resource: string;
  property: string;
  reason: string;
}

/** Parses `error: <type> resource '<name>': property <p> value <v> has a problem: <reason>` (and the property-less form). */
function reportedFailures(out: string): Reported[] {
  const re = /^pulumi-nodejs:dynamic\/sftpjail:(\w+) resource '([^']+)'(?:: property (\S*) value [\s\S]*? has a problem| has a problem): ([^\n]*)/;
  return out
    .split(/^error: /m)
    .map((chunk) => re.exec(chunk))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ type: m[1], resource: m[2], property: m[3] ?? "", reason: m[4] }));
}

interface Preview {
  resource: string;
  type: ResourceType | "SftpJailHost";
  rows: HostileCase[];
  result?: RunResult;
  reported?: Reported[];
}

let sb: Sandbox;
let host: SandboxHost;
let lanes: PulumiProject[] = [];
let connectionsBefore: number;
let seconds = 0;
const previews: Preview[] = batches().map((b, i) => ({ resource: `b${i}-${b.type}`, type: b.type, rows: b.rows }));
const byRow = new Map<string, Preview>();
for (const p of previews) for (const r of p.rows) byRow.set(r.id, p);

/** The valid connection every row starts from; the program swaps "@keyFile" for the sandbox key. */
const connection = () => ({ host: "127.0.0.1", port: host.port, user: "root", hostKey: host.hostKey, privateKey: "@keyFile" });

/** The component passes hostile values through to the resource that refuses them (users [] keeps it to a group + block). */
const component: Preview = {
  resource: "jail-host",
  type: "SftpJailHost",
  rows: [
    {
      id: "component-forcecommand",
      type: "SshdMatchBlock",
      what: "SftpJailHost sshdDirectives with a chained command",
      set: {},
      property: "directives.ForceCommand",
      reason: /no shell metacharacters/,
    },
  ],
};

async function runPreview(p: Preview, lane: PulumiProject): Promise<void> {
  const args =
    p.type === "SftpJailHost"
      ? // Its group is valid, and a valid SftpGroup takes a preview-time look at its host (the operator envelope): that
        // host is a closed port, so the sandbox host still sees no connection and the look is skipped at once.
        { connection: { ...connection(), port: 1, dialErrorLimit: 1 }, group: { name: "sftp", gid: 2300 }, users: [], sshdDirectives: { ForceCommand: "internal-sftp && /bin/sh" } }
      : compose(p.type, p.rows, connection());
  lane.setConfig({ keyFile: sb.keyPath, resources: [{ id: p.resource, type: p.type, args }] });
  p.result = await lane.preview();
  p.reported = reportedFailures(p.result.stderr + "\n" + p.result.stdout);
}

beforeAll(async () => {
  sb = await startSandbox(["sec-hostile"]);
  host = sb.hosts[0];
  lanes = await Promise.all(Array.from({ length: LANES }, (_, i) => PulumiProject.create(`hostile${i}`, PROGRAM)));
  connectionsBefore = await host.connectionCount();
  const t0 = Date.now();
  const queue = [...previews, component];
  await Promise.all(
    lanes.map(async (lane) => {
      for (let p = queue.shift(); p; p = queue.shift()) await runPreview(p, lane);
    }),
  );
  seconds = (Date.now() - t0) / 1000;
});

afterAll(async () => {
  for (const l of lanes) l.cleanup();
  await sb?.stop();
});

test("the table is large and every batch was previewed through the CLI", () => {
  expect(CASES.length).toBeGreaterThanOrEqual(40);
  for (const p of [...previews, component]) expect(p.result).toBeDefined();
  console.log(`${CASES.length} hostile rows in ${previews.length + 1} previews: ${seconds.toFixed(1)} s`);
});

describe.each(CASES.map((r) => [`${r.type} ${r.property || "(resource)"}: ${r.what}`, r] as const))("%s", (_name, row) => {
  it("is refused at preview with a message naming the field", () => {
    const p = byRow.get(row.id)!;
    expect(p.result!.code).not.toBe(0);
    const mine = p.reported!.filter((f) => f.resource === p.resource && f.property === row.property);
    expect(mine.map((f) => f.reason)).toContainEqual(expect.stringMatching(row.reason));
  });
});

test("each preview blames exactly the fields that were attacked, on the resource that carries them", () => {
  for (const p of previews) {
    expect({ resource: p.resource, properties: [...new Set(p.reported!.map((f) => `${f.resource} ${f.property}`))].sort() }).toEqual({
      resource: p.resource,
      properties: [...new Set(p.rows.map((r) => `${p.resource} ${r.property}`))].sort(),
    });
  }
});

test("SftpJailHost passes a hostile sshd directive to its Match block, which refuses it at preview", () => {
  expect(component.result!.code).not.toBe(0);
  const f = component.reported!.filter((x) => x.resource === "jail-host-match" && x.property === "directives.ForceCommand");
  expect(f.map((x) => x.reason)).toContainEqual(expect.stringMatching(/no shell metacharacters/));
});

test("the sandbox host saw no SSH connection during the whole suite", async () => {
  expect(await host.connectionCount()).toBe(connectionsBefore);
  expect(await host.sshdLog()).not.toMatch(/Accepted publickey/);
});
