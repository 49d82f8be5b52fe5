// Unit tests are pure and fast: a hung one fails in 15 s (jest's project configs ignore testTimeout, so it is set here).
jest.setTimeout(15_000);
