import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  basicAuthorization,
  parseAuthChallenges,
  parseTokenResponse,
  pickChallenge,
  refreshTokenForm,
  repositoryScope,
  tokenScopes,
  tokenUrl,
} from '../../src/core/registry-auth-challenge.js';

const test = suite('registry auth challenges');

test('reads the Bearer challenge Docker Hub sends', () => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
  assert.equal(parseAuthChallenges(header), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
});

test('keeps commas and escaped quotes inside quoted values, and reads unquoted ones', () => {
  const header = 'Bearer realm="https://r.example/token?a=1,b=2",scope="repository:x:pull,push",error=insufficient_scope, note="say \\"hi\\""';
  const [challenge] = parseAuthChallenges(header);
  assert.is(challenge?.params['realm'], 'https://r.example/token?a=1,b=2');
  assert.is(challenge?.params['scope'], 'repository:x:pull,push');
  assert.is(challenge?.params['error'], 'insufficient_scope');
  assert.is(challenge?.params['note'], 'say "hi"');
});

test('splits several challenges and prefers Bearer over Basic', () => {
  const challenges = parseAuthChallenges('Basic realm="Registry Realm", Bearer realm="https://ghcr.io/token",service="ghcr.io"');
  assert.equal(challenges.map((c) => c.scheme), ['basic', 'bearer']);
  assert.is(pickChallenge(challenges)?.scheme, 'bearer');
  assert.is(pickChallenge(parseAuthChallenges('Basic realm="x"'))?.scheme, 'basic');
  assert.is(pickChallenge(parseAuthChallenges('Basic'))?.scheme, 'basic');
  assert.is(pickChallenge(parseAuthChallenges('Negotiate abc==')), undefined);
  // A Bearer challenge without a realm cannot be answered.
  assert.is(pickChallenge(parseAuthChallenges('Bearer service="x"')), undefined);
  assert.equal(parseAuthChallenges(''), []);
});

test('builds the token URL with the service and one scope parameter per scope', () => {
  const [challenge] = parseAuthChallenges('Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:a/b:pull"');
  const scopes = tokenScopes(challenge!, [repositoryScope('a/c', ['pull', 'push']), repositoryScope('a/b', ['pull'])]);
  assert.equal(scopes, ['repository:a/c:pull,push', 'repository:a/b:pull']);
  const url = tokenUrl(challenge!, scopes);
  assert.is(url.origin + url.pathname, 'https://quay.io/v2/auth');
  assert.is(url.searchParams.get('service'), 'quay.io');
  assert.equal(url.searchParams.getAll('scope'), ['repository:a/c:pull,push', 'repository:a/b:pull']);
});

test('adds the scope the challenge names when it differs from ours', () => {
  const [challenge] = parseAuthChallenges('Bearer realm="https://x/token",scope="repository:src/repo:pull repository:dst/repo:push"');
  assert.equal(tokenScopes(challenge!, ['repository:dst/repo:pull,push']), ['repository:dst/repo:pull,push', 'repository:src/repo:pull', 'repository:dst/repo:push']);
});

test('the refresh-token form names grant, token, service and space-joined scopes', () => {
  const [challenge] = parseAuthChallenges('Bearer realm="https://x/token",service="svc"');
  const form = new URLSearchParams(refreshTokenForm(challenge!, ['repository:a:pull', 'repository:b:pull'], 'rt-1', 'kfbundle'));
  assert.is(form.get('grant_type'), 'refresh_token');
  assert.is(form.get('refresh_token'), 'rt-1');
  assert.is(form.get('service'), 'svc');
  assert.is(form.get('client_id'), 'kfbundle');
  assert.is(form.get('scope'), 'repository:a:pull repository:b:pull');
});

test('token answers: token or access_token, a lifetime defaulting to 60 s, nothing for an empty answer', () => {
  assert.equal(parseTokenResponse({ token: 'abc', expires_in: 300 }), { token: 'abc', expiresInSeconds: 300 });
  assert.equal(parseTokenResponse({ access_token: 'xyz' }), { token: 'xyz', expiresInSeconds: 60 });
  assert.equal(parseTokenResponse({ token: '', access_token: 'xyz' }), { token: 'xyz', expiresInSeconds: 60 });
  assert.is(parseTokenResponse({ token: '' }), undefined);
  assert.is(parseTokenResponse('abc'), undefined);
  assert.is(parseTokenResponse(null), undefined);
});

test('Basic authorization is base64 of user:password', () => {
  assert.is(basicAuthorization('alice', 'p:ss'), `Basic ${Buffer.from('alice:p:ss').toString('base64')}`);
  assert.is(basicAuthorization('aladdin', 'opensesame'), 'Basic YWxhZGRpbjpvcGVuc2VzYW1l');
});

test.run();
