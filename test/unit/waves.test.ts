import { waves } from "../../program/config";

const hosts = Array.from({ length: 10 }, (_, i) => `h${i + 1}`);

describe("rollout waves", () => {
  it("puts the canary first, then waves of the set size", () => {
    expect(waves(hosts, { canary: 1, waveSize: 4 })).toEqual([["h1"], ["h2", "h3", "h4", "h5"], ["h6", "h7", "h8", "h9"], ["h10"]]);
  });
  it("takes a percentage canary, rounded up, at least one host", () => {
    expect(waves(hosts, { canary: "25%", waveSize: 10 })[0]).toEqual(["h1", "h2", "h3"]);
    expect(waves(hosts.slice(0, 3), { canary: "1%" })[0]).toEqual(["h1"]);
  });
  it("is one wave when no rollout is configured", () => {
    expect(waves(hosts, { canary: 0 })).toEqual([hosts]);
  });
});
