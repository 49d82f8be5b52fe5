/**
 * A snapshot's output leaves the host in one write (provider/observe/snapshot.ts GATHER): every probe's output
 * gathered by dd, so the SSH channel carries it in full packets instead of one per probe's write. Run on dash and
 * bash, as hosts run it.
 */
import { spawn } from "child_process";
import { GATHER, snapshotScript } from "../../provider/observe/snapshot";

/** Runs `script` in `shell`; its stdout as the chunks a reader got (each a read of the pipe). */
function chunks(shell: string, script: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(shell, ["-c", script], { stdio: ["ignore", "pipe", "inherit"] });
    const out: string[] = [];
    p.stdout.on("data", (d: Buffer) => out.push(d.toString()));
    p.on("error", reject);
    p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${shell} exited ${code}`))));
  });
}

// 300 writes, each by its own process, with pauses: unbuffered, a reader gets them in many reads.
const PROBES = `{ for i in $(seq 1 300); do /bin/echo "line $i"; [ $((i % 50)) -eq 0 ] && sleep 0.05; done; }`;
const EXPECTED = Array.from({ length: 300 }, (_, i) => `line ${i + 1}\n`).join("");

describe.each(["dash", "bash"])("%s", (shell) => {
  it("without it the probes' writes arrive apart; through it, in one piece", async () => {
    const apart = await chunks(shell, PROBES);
    expect(apart.join("")).toBe(EXPECTED);
    expect(apart.length).toBeGreaterThan(1);
    const gathered = await chunks(shell, `${PROBES} | ${GATHER}`);
    expect(gathered).toEqual([EXPECTED]);
  });

  it("a host without a working dd still gets every byte, through cat", async () => {
    const out = await chunks(shell, `dd() { return 127; }\n${PROBES} | ${GATHER}`);
    expect(out.join("")).toBe(EXPECTED);
  });
});

it("every snapshot script ends by printing through it, after its end marker", () => {
  for (const script of [snapshotScript(), snapshotScript({ paths: ["/srv/sftp/a"] }, { manifest: false, base: [] })]) {
    const lines = script.split("\n");
    expect(lines[lines.length - 1]).toBe(`} | ${GATHER}`);
    expect(lines[lines.length - 2]).toMatch(/^echo '.*end'$/);
  }
});
