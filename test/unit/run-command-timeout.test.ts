// The tests' command runner keeps its promise of a time limit: a command that hangs is killed, with what it started,
// and the run fails saying so, rather than hanging the suite or passing as an ordinary non-zero exit.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand } from '../helpers/cli.js';

const test = suite('runCommand time limit');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a command within its limit resolves with its exit code and output', async () => {
  const result = await runCommand('bash', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 10_000 });
  assert.equal(result, { code: 3, stdout: 'out\n', stderr: 'err\n' });
});

test('a command past its limit is killed with its children, and the run fails naming it', async () => {
  const started = Date.now();
  let failure: Error | undefined;
  let child = 0;
  try {
    // The grandchild writes its pid first, so the test can look for it afterwards.
    await runCommand('bash', ['-c', 'sleep 60 & echo $!; wait'], { timeoutMs: 500 });
  } catch (error) {
    failure = error as Error;
  }
  assert.ok(failure, 'the run failed');
  assert.match(failure!.message, 'killed after 0.5 s: bash -c sleep 60 & echo $!; wait');
  child = Number(/--- stdout \(end\)\n(\d+)/.exec(failure!.message)?.[1]);
  assert.ok(child > 0, failure!.message);
  assert.ok(Date.now() - started < 10_000, 'it did not wait for the sleep');
  const deadline = Date.now() + 5_000;
  while (alive(child) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.not.ok(alive(child), `the command's child ${child} was killed too`);
});

test.run();
