/**
 * The registration traces of sftp-jail's resources keep only the program's frames (provider/util/registrationTraces.ts);
 * other resources' traces are untouched. The end-to-end proof (a real state's `sourcePosition` names the program's
 * line) is in test/e2e/sftpGroup.test.ts.
 */
import * as url from "url";
import * as pulumi from "@pulumi/pulumi";
import { Frame, programFrames, programFramesOnly } from "../../provider/util/registrationTraces";

const OURS = "file:///app/node_modules/sftp-jail/bin/provider/";
const MAPPED = "file:///app/node_modules/sftp-jail/provider/"; // where a TypeScript program's source maps put our frames
const SDK = "file:///app/node_modules/@pulumi/pulumi/";
const SDK_MAPPED = "file:///app/node_modules/@pulumi/"; // the SDK's maps name sources one level up
const f = (uri: string, line = 1): Frame => ({ uri, line, column: 1 });

test("a trace that starts in our package keeps only the program's frames", () => {
  const trace = [
    f(`${OURS}resources/jailedUser.js`, 14),
    f(`${OURS}components/sftpJailHost.js`, 153),
    f("file:///app/index.js", 70),
    undefined,
    f(`${SDK}cmd/run/run.js`, 523),
    f(`${SDK}runtime/stack.js`, 76),
  ];
  expect(programFrames(trace, [OURS, MAPPED], [SDK, SDK_MAPPED])).toEqual([f("file:///app/index.js", 70)]);
});

test("frames a TypeScript program's source maps moved to our .ts sources and the SDK's are dropped too", () => {
  const trace = [f(`${MAPPED}resources/jailedUser.ts`, 20), f("file:///app/index.ts", 12), f(`${SDK_MAPPED}resource.ts`, 300), f(`${SDK_MAPPED}cmd/run/run.ts`)];
  expect(programFrames(trace, [OURS, MAPPED], [SDK, SDK_MAPPED])).toEqual([f("file:///app/index.ts", 12)]);
});

test("any other trace is left as it is, and so is one with no program frame at all", () => {
  const aws = [f("file:///app/node_modules/@pulumi/aws/s3/bucket.js"), f("file:///app/index.js"), f(`${SDK}cmd/run/run.js`)];
  expect(programFrames(aws, [OURS, MAPPED], [SDK])).toBe(aws);
  const onlyOurs = [f(`${OURS}resources/sftpGroup.js`), f(`${SDK}runtime/stack.js`)];
  expect(programFrames(onlyOurs, [OURS], [SDK])).toBe(onlyOurs);
  expect(programFrames([], [OURS], [SDK])).toEqual([]);
  // A sibling directory whose name starts the same is not ours.
  const sibling = [f("file:///app/node_modules/sftp-jail/bin/provider-extra/x.js"), f(`${SDK}a.js`)];
  expect(programFrames(sibling, [OURS.replace(/\/$/, "")], [SDK])).toBe(sibling);
});

test("installed once on the SDK's Resource.stackTrace: a trace taken from here (not our package) is unchanged", () => {
  const R = pulumi.Resource as unknown as { stackTrace: (skip: number) => Frame[] };
  expect(programFramesOnly()).toBe(true);
  const installed = R.stackTrace;
  expect(programFramesOnly()).toBe(true);
  expect(R.stackTrace).toBe(installed); // idempotent: not wrapped twice
  // Loading the resource classes installs it (the program's only way in).
  require("../../provider/resources/dynamic");
  expect(R.stackTrace).toBe(installed);
  // Taken from this test file, the trace does not start in our package: every frame stays, this file's included.
  const here = R.stackTrace(0).map((x) => x?.uri);
  expect(here).toContain(url.pathToFileURL(__filename).href);
  expect(here.length).toBeGreaterThan(3);
});
