import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KfbundleError, type FaultKind } from '../../src/core/errors.js';
import { backoffDelay, isRetryablePullError, retry } from '../../src/core/retry.js';

const test = suite('retries');

const pullFault = (kind: FaultKind, message: string) => new KfbundleError('PULL_FAILED', message, { fault: kind });

test('retries transient failures with growing, capped, jittered delays, then succeeds', async () => {
  const slept: number[] = [];
  let calls = 0;
  const value = await retry(
    async () => {
      calls++;
      if (calls < 3) throw pullFault('transient', 'received unexpected HTTP status: 503 Service Unavailable');
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
      throw pullFault('transient', `toomanyrequests ${calls}`);
    }, { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {}, random: () => 0, isRetryable: isRetryablePullError });
    assert.unreachable();
  } catch (error) {
    assert.is((error as Error).message, 'toomanyrequests 3');
  }
  assert.is(calls, 3);
});

test('the decision is the fault kind the adapter set, not the words of the message', () => {
  for (const kind of ['not-found', 'denied', 'unreachable', 'invalid'] as const) {
    // Words that once read as "transient" change nothing: the kind decides.
    assert.not.ok(isRetryablePullError(pullFault(kind, 'net/http: TLS handshake timeout')), kind);
  }
  assert.ok(isRetryablePullError(pullFault('transient', 'manifest unknown')), 'a transient kind is retried whatever the text says');
  assert.not.ok(isRetryablePullError(new Error('toomanyrequests: rate limit')), 'an error nobody classified is not a registry answer');
  assert.not.ok(isRetryablePullError(new KfbundleError('DOCKER_CONNECTION_LOST', 'the engine went away')), 'an engine that went away is no registry to ask again');
  assert.is(backoffDelay(10, { baseDelayMs: 1000, maxDelayMs: 30000, random: () => 0.5 }), 15000);
});

test('a fault that is not retried fails at once', async () => {
  let calls = 0;
  const error = await retry(async () => {
    calls++;
    throw pullFault('denied', 'denied: requested access to the resource is denied');
  }, { attempts: 4, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {}, random: () => 0, isRetryable: isRetryablePullError }).catch((e: unknown) => e);
  assert.is((error as KfbundleError).fault, 'denied');
  assert.is(calls, 1);
});

test.run();
