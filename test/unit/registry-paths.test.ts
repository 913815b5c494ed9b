import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseImageRef } from '../../src/core/image-ref.js';
import { isCrossOrigin, isLoopbackHost, manifestReference, mountPath, registryApiHost, transportFor, uploadCompleteUrl } from '../../src/core/registry-paths.js';

const test = suite('registry paths');

test('Docker Hub is reached at registry-1.docker.io; other registries at their own host', () => {
  assert.is(registryApiHost(parseImageRef('busybox').registry), 'registry-1.docker.io');
  assert.is(registryApiHost(parseImageRef('index.docker.io/library/busybox').registry), 'registry-1.docker.io');
  assert.is(registryApiHost(parseImageRef('gcr.io/ml-pipeline/api-server:2.0').registry), 'gcr.io');
  assert.is(registryApiHost(parseImageRef('127.0.0.1:5000/x/y').registry), '127.0.0.1:5000');
});

test('loopback hosts, with or without a port', () => {
  for (const host of ['127.0.0.1', '127.0.0.1:5000', '127.1.2.3:80', 'localhost', 'localhost:5000', '[::1]:5000', '::1', 'registry.localhost:5000']) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ['128.0.0.1', '10.0.0.1:5000', 'gcr.io', 'localhost.example.com', '127.0.0.1.nip.io', '[2001:db8::1]:5000']) {
    assert.not.ok(isLoopbackHost(host), host);
  }
});

test('plain HTTP for loopback, verified TLS otherwise, insecure for listed hosts (with or without port)', () => {
  assert.is(transportFor('127.0.0.1:5000', []), 'http');
  assert.is(transportFor('localhost:5000', []), 'http');
  assert.is(transportFor('gcr.io', []), 'https');
  assert.is(transportFor('mirror.corp:5000', ['mirror.corp:5000']), 'insecure');
  assert.is(transportFor('mirror.corp:5000', ['mirror.corp']), 'insecure');
  assert.is(transportFor('mirror.corp:5001', ['mirror.corp:5000']), 'https');
  assert.is(transportFor('mirror.corp', ['http://mirror.corp/']), 'insecure');
  // An insecure entry wins over the loopback rule, for a self-signed registry on loopback.
  assert.is(transportFor('127.0.0.1:5000', ['127.0.0.1:5000']), 'insecure');
});

test('manifests are asked for by digest when pinned, else by tag', () => {
  assert.is(manifestReference(parseImageRef('gcr.io/a/b:1')), '1');
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.is(manifestReference(parseImageRef(`gcr.io/a/b:1@${digest}`)), digest);
  assert.is(manifestReference(parseImageRef('gcr.io/a/b')), 'latest');
});

test('upload Locations, relative or absolute and with their own query, gain digest=', () => {
  const base = new URL('http://127.0.0.1:5000');
  const digest = `sha256:${'b'.repeat(64)}`;
  const relative = uploadCompleteUrl('/v2/a/blobs/uploads/uuid?_state=abc', base, digest);
  assert.is(relative.href, `http://127.0.0.1:5000/v2/a/blobs/uploads/uuid?_state=abc&digest=sha256%3A${'b'.repeat(64)}`);
  const absolute = uploadCompleteUrl('https://storage.example/upload/x', base, digest);
  assert.is(absolute.origin, 'https://storage.example');
  assert.is(absolute.searchParams.get('digest'), digest);
  assert.is(mountPath('dst/repo', digest, 'src/repo'), `/v2/dst/repo/blobs/uploads/?mount=sha256%3A${'b'.repeat(64)}&from=src%2Frepo`);
});

test('a redirect to another host, port or scheme is cross-origin', () => {
  const from = new URL('https://registry.example/v2/a/blobs/x');
  assert.not.ok(isCrossOrigin(from, new URL('https://registry.example/other')));
  assert.ok(isCrossOrigin(from, new URL('https://storage.example/x')));
  assert.ok(isCrossOrigin(from, new URL('https://registry.example:8443/x')));
  assert.ok(isCrossOrigin(from, new URL('http://registry.example/x')));
});

test.run();
