/** The one per-host queue (apply/hostQueue.ts): guarded changes and firewall work on one host run one at a time. */
import { hostQueue } from "../../provider/apply/hostQueue";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("hostQueue", () => {
  it("runs work for one host one at a time, in order, and work for other hosts alongside", async () => {
    const q = hostQueue("test-order");
    const seen: string[] = [];
    const job = (host: string, name: string) =>
      q({ target: host }, async () => {
        seen.push(`${name}+`);
        await tick();
        seen.push(`${name}-`);
        return name;
      });
    const results = await Promise.all([job("a:22", "a1"), job("a:22", "a2"), job("b:22", "b1")]);
    expect(results).toEqual(["a1", "a2", "b1"]);
    // a2 starts only after a1 ended; b1 does not wait for a1.
    expect(seen.indexOf("a2+")).toBeGreaterThan(seen.indexOf("a1-"));
    expect(seen.indexOf("b1+")).toBeLessThan(seen.indexOf("a1-"));
  });

  it("keys by host, not by connection object: two sessions to one host share the queue", async () => {
    const q = hostQueue("test-key");
    let running = 0;
    let most = 0;
    const job = () => async () => {
      most = Math.max(most, ++running);
      await tick();
      running--;
    };
    await Promise.all([q({ target: "root@h:22" }, job()), q({ target: "root@h:22" }, job())]);
    expect(most).toBe(1);
  });

  it("a failed piece fails its caller only; the next one still runs", async () => {
    const q = hostQueue("test-fail");
    const a = q({ target: "h" }, async () => {
      throw new Error("boom");
    });
    const b = q({ target: "h" }, async () => "ran");
    await expect(a).rejects.toThrow("boom");
    await expect(b).resolves.toBe("ran");
  });

  it("queues of different names do not wait for each other (they nest: firewall work holds one while guarded waits in another)", async () => {
    const outer = hostQueue("test-outer");
    const inner = hostQueue("test-inner");
    await expect(outer({ target: "h" }, () => inner({ target: "h" }, async () => "nested"))).resolves.toBe("nested");
  });

  it("one queue per name across copies of the module (globalThis), as the dynamic provider may load it twice", async () => {
    const q1 = hostQueue("test-shared");
    const q2 = hostQueue("test-shared");
    const seen: string[] = [];
    await Promise.all([
      q1({ target: "h" }, async () => {
        seen.push("1+");
        await tick();
        seen.push("1-");
      }),
      q2({ target: "h" }, async () => {
        seen.push("2+");
      }),
    ]);
    expect(seen).toEqual(["1+", "1-", "2+"]);
  });
});
