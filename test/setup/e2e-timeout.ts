// e2e tests drive the real pulumi CLI against sandbox hosts on a shared 2-core machine: 10 minutes per test.
jest.setTimeout(600_000);
