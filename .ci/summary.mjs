// Prints "N passed, N failed" from vitest's JSON report. A missing report (lint, format,
// type or cycle check failed before the tests ran) counts as one failure, and so does each
// test file that failed without a failing test (it did not load).
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? ".vitest-report.json";
try {
  const report = JSON.parse(readFileSync(file, "utf8"));
  const brokenFiles = (report.testResults ?? []).filter(
    (r) =>
      r.status === "failed" &&
      !(r.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
  console.log(
    `${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles} failed`,
  );
} catch {
  console.log("0 passed, 1 failed");
}
