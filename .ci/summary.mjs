// Prints "N passed, N failed" from vitest's JSON report; a missing report (lint, type or
// cycle check failed before the tests ran) counts as one failure.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? ".vitest-report.json";
try {
  const report = JSON.parse(readFileSync(file, "utf8"));
  console.log(
    `${report.numPassedTests} passed, ${report.numFailedTests} failed`,
  );
} catch {
  console.log("0 passed, 1 failed");
}
