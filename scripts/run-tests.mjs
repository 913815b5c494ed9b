// Runs uvu over each test directory and ends with the one line CI reads: "N passed, N failed".
// uvu prints its own totals per run; this sums them, and counts a run that crashed without totals as a failure.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const dirs = process.argv.slice(2);
const ANSI = /\x1b\[[0-9;]*m/g;
// CI has 90 minutes for everything; a directory whose tests hang is killed well before that and counted as failed.
const DIR_TIMEOUT_MS = 75 * 60 * 1000;

function runDir(dir) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', dir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      // Plain text for CI logs and for the totals parsed below.
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      timeout: DIR_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk.toString();
    });
    child.on('close', (code, signal) => {
      if (signal !== null) {
        resolve({ passed: 0, failed: 1, skipped: 0, note: `${dir}: killed by ${signal} (time limit ${DIR_TIMEOUT_MS / 60000} min or a crash)` });
        return;
      }
      const plain = output.replace(ANSI, '');
      const number = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN);
      const total = number('Total');
      const passed = number('Passed');
      const skipped = number('Skipped') || 0;
      if (Number.isNaN(total) || Number.isNaN(passed)) {
        resolve({ passed: 0, failed: 1, skipped: 0, note: `${dir}: runner exited ${code} without totals` });
        return;
      }
      let failed = total - passed - skipped;
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ passed, failed, skipped, note: code === 0 ? undefined : `${dir}: exit ${code}` });
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const dir of dirs) {
  const result = await runDir(dir);
  passed += result.passed;
  failed += result.failed;
  skipped += result.skipped;
  if (result.note) console.log(result.note);
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
