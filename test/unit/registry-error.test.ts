import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT_CODES } from '../../src/core/errors.js';
import { faultForNetworkError, faultForStatus, parseRetryAfter, registryErrorText, retryDelay, RegistryError } from '../../src/core/registry-error.js';

const test = suite('registry errors');

test('statuses: 404 not found, 401/403 denied, 408/429/5xx transient, other 4xx invalid', () => {
  assert.equal([404, 401, 403, 408, 429, 500, 502, 503, 504, 400, 405, 416].map(faultForStatus), [
    'not-found', 'denied', 'denied', 'transient', 'transient', 'transient', 'transient', 'transient', 'transient', 'invalid', 'invalid', 'invalid',
  ]);
});

test('socket errors: no such host or route and bad certificates are unreachable; lost connections transient', () => {
  for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO']) {
    assert.is(faultForNetworkError(code), 'unreachable', code);
  }
  for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', undefined]) assert.is(faultForNetworkError(code), 'transient', String(code));
});

test('Retry-After as delay-seconds or an HTTP date; unreadable values are ignored', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  assert.is(parseRetryAfter('120', now), 120_000);
  assert.is(parseRetryAfter(' 0 ', now), 0);
  assert.is(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
  assert.is(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
  assert.is(parseRetryAfter('soon', now), undefined);
  assert.is(parseRetryAfter('-5', now), undefined);
  assert.is(parseRetryAfter(undefined, now), undefined);
});

test('the wait is the backoff or the registry\'s Retry-After, whichever is longer', () => {
  assert.is(retryDelay(500, undefined), 500);
  assert.is(retryDelay(500, 2000), 2000);
  assert.is(retryDelay(5000, 1000), 5000);
});

test('the registry\'s own words from an error body', () => {
  assert.is(registryErrorText('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}'), 'MANIFEST_UNKNOWN: manifest unknown');
  assert.is(registryErrorText('{"errors":[{"code":"DENIED","message":"a"},{"code":"UNAUTHORIZED"}]}'), 'DENIED: a; UNAUTHORIZED');
  assert.is(registryErrorText('<html>\n  <body>502 Bad Gateway</body>\n</html>'), '<html> <body>502 Bad Gateway</body> </html>');
  assert.is(registryErrorText(''), '');
});

test('a digest mismatch carries DIGEST_MISMATCH; every other fault PULL_FAILED with the shared fault kind', () => {
  const mismatch = new RegistryError('digest-mismatch', 'x');
  assert.is(mismatch.code, 'DIGEST_MISMATCH');
  assert.is(mismatch.fault, undefined);
  assert.not.ok(mismatch.retryable);
  const throttled = new RegistryError('transient', 'y', { status: 429, retryAfterMs: 1000, hint: 'wait' });
  assert.is(throttled.code, 'PULL_FAILED');
  assert.is(throttled.fault, 'transient');
  assert.is(throttled.status, 429);
  assert.is(throttled.retryAfterMs, 1000);
  assert.is(throttled.hint, 'wait');
  assert.ok(throttled.retryable);
  for (const kind of ['not-found', 'denied', 'unreachable', 'invalid'] as const) assert.not.ok(new RegistryError(kind, 'z').retryable, kind);
  assert.is(EXIT_CODES[new RegistryError('denied', 'z').code], EXIT_CODES.PULL_FAILED);
});

test.run();
