#!/usr/bin/env node
// Reads TAP 14 (tap --reporter=tap) on stdin, passes it through, and prints one
// final line "N passed, N failed": N counts the tests of each file (its direct
// subtests); a file that fails outside any of its tests (a crash, a syntax
// error, a timeout) counts as one failed test more.
import { createInterface } from 'node:readline';

const rl = createInterface({ input: process.stdin });
let passed = 0;
let failed = 0;
let fileFailedInside = 0;
let filePassedInside = 0;
let files = 0;
for await (const line of rl) {
  process.stdout.write(line + '\n');
  const inner = /^ {4}(not ok|ok) \d+ /.exec(line);
  if (inner) {
    if (inner[1] === 'ok') filePassedInside++;
    else fileFailedInside++;
    continue;
  }
  const top = /^(not ok|ok) \d+ /.exec(line);
  if (top) {
    files++;
    passed += filePassedInside;
    failed += fileFailedInside;
    if (top[1] === 'not ok' && fileFailedInside === 0) failed++;
    if (top[1] === 'ok' && filePassedInside === 0 && fileFailedInside === 0) passed++;
    filePassedInside = 0;
    fileFailedInside = 0;
  }
}
if (files === 0) failed++;
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
