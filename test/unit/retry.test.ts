import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, isRetryablePullError, retry } from '../../src/core/retry.js';

const test = suite('retries');

test('retries transient failures with growing, capped, jittered delays, then succeeds', async () => {
  const slept: number[] = [];
  let calls = 0;
  const value = await retry(
    async () => {
      calls++;
      if (calls < 3) throw new Error('received unexpected HTTP status: 503 Service Unavailable');
      return 'ok';
    },
    { attempts: 5, baseDelayMs: 1000, maxDelayMs: 1500, sleep: async (ms) => void slept.push(ms), random: () => 0.99, isRetryable: isRetryablePullError },
  );
  assert.is(value, 'ok');
  assert.is(calls, 3);
  assert.equal(slept, [990, 1485]);
});

test('gives up after the bounded number of attempts with the last error', async () => {
  let calls = 0;
  try {
    await retry(async () => {
      calls++;
      throw new Error(`toomanyrequests ${calls}`);
    }, { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {}, random: () => 0, isRetryable: isRetryablePullError });
    assert.unreachable();
  } catch (error) {
    assert.is((error as Error).message, 'toomanyrequests 3');
  }
  assert.is(calls, 3);
});

test('does not retry a missing image or denied access', () => {
  assert.not.ok(isRetryablePullError(new Error('manifest for gcr.io/x:1 not found: manifest unknown')));
  assert.not.ok(isRetryablePullError(new Error('pull access denied for x')));
  assert.not.ok(isRetryablePullError(new Error('unauthorized: authentication required')));
  assert.ok(isRetryablePullError(new Error('net/http: TLS handshake timeout')));
  assert.is(backoffDelay(10, { baseDelayMs: 1000, maxDelayMs: 30000, random: () => 0.5 }), 15000);
});

test.run();
