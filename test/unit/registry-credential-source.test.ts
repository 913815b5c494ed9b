import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { credentialSourceFor, credentialsFromHelperOutput, DOCKER_HUB_SERVER_URL, isHelperNotFound } from '../../src/core/registry-credential-source.js';

const test = suite('registry credential sources');
const auth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');

test('a per-registry helper wins over the default store, which wins over stored auths', () => {
  const config = {
    auths: { 'gcr.io': { auth: auth('a', 'b') }, 'quay.io': { auth: auth('q', 'r') } },
    credsStore: 'desktop',
    credHelpers: { 'gcr.io': 'gcloud', '123.dkr.ecr.us-east-1.amazonaws.com': 'ecr-login' },
  };
  assert.equal(credentialSourceFor(config, 'gcr.io'), { kind: 'helper', helper: 'gcloud', serverUrl: 'gcr.io' });
  assert.equal(credentialSourceFor(config, '123.dkr.ecr.us-east-1.amazonaws.com'), { kind: 'helper', helper: 'ecr-login', serverUrl: '123.dkr.ecr.us-east-1.amazonaws.com' });
  // With a default store the docker CLI reads credentials from it alone, as here.
  assert.equal(credentialSourceFor(config, 'quay.io'), { kind: 'helper', helper: 'desktop', serverUrl: 'quay.io' });
});

test('stored auths: base64 user:password, an identity token, for the registry host as keyed', () => {
  const config = { auths: { 'https://127.0.0.1:5000': { auth: auth('alice', 's:cret') }, 'ghcr.io': { identitytoken: 'rt' } } };
  assert.equal(credentialSourceFor(config, '127.0.0.1:5000'), { kind: 'stored', credentials: { username: 'alice', password: 's:cret', serveraddress: '127.0.0.1:5000' } });
  assert.equal(credentialSourceFor(config, 'ghcr.io'), { kind: 'stored', credentials: { identitytoken: 'rt', serveraddress: 'ghcr.io' } });
  assert.equal(credentialSourceFor(config, 'quay.io'), { kind: 'none' });
  assert.equal(credentialSourceFor(undefined, 'quay.io'), { kind: 'none' });
});

test('Docker Hub: the legacy index URL is the key and what helpers are asked for', () => {
  assert.equal(credentialSourceFor({ auths: { 'https://index.docker.io/v1/': { auth: auth('u', 'p') } } }, 'docker.io'), {
    kind: 'stored',
    credentials: { username: 'u', password: 'p', serveraddress: DOCKER_HUB_SERVER_URL },
  });
  assert.equal(credentialSourceFor({ credHelpers: { 'index.docker.io': 'pass' } }, 'docker.io'), { kind: 'helper', helper: 'pass', serverUrl: DOCKER_HUB_SERVER_URL });
  assert.equal(credentialSourceFor({ credsStore: 'secretservice' }, 'docker.io'), { kind: 'helper', helper: 'secretservice', serverUrl: DOCKER_HUB_SERVER_URL });
});

test('a helper name that could name another program is ignored', () => {
  assert.equal(credentialSourceFor({ credsStore: '../../bin/sh' }, 'gcr.io'), { kind: 'none' });
  assert.equal(credentialSourceFor({ credHelpers: { 'gcr.io': '-rf' } }, 'gcr.io'), { kind: 'none' });
});

test('helper answers: user and secret, an identity token for <token>, nothing for incomplete answers', () => {
  assert.equal(credentialsFromHelperOutput('{"ServerURL":"gcr.io","Username":"oauth2accesstoken","Secret":"ya29"}', 'gcr.io'), {
    username: 'oauth2accesstoken',
    password: 'ya29',
    serveraddress: 'gcr.io',
  });
  assert.equal(credentialsFromHelperOutput('{"Username":"<token>","Secret":"refresh"}', 'x'), { identitytoken: 'refresh', serveraddress: 'x' });
  assert.is(credentialsFromHelperOutput('{"Username":"u","Secret":""}', 'x'), undefined);
  assert.is(credentialsFromHelperOutput('{"Secret":"s"}', 'x'), undefined);
  assert.is(credentialsFromHelperOutput('not json', 'x'), undefined);
  assert.ok(isHelperNotFound('credentials not found in native keychain'));
  assert.not.ok(isHelperNotFound('exec format error'));
});

test.run();
