// The registry client against the real local registry (plain HTTP on 127.0.0.1), with skopeo as the independent
// peer for what the registry serves, the builder engine for pushing and pulling images, and proxies in front of the
// registry that inject faults, ask for tokens or Basic auth, redirect blobs to storage, or speak TLS with a
// self-signed certificate.

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isRegistryError, type RegistryError } from '../../src/core/registry-error.js';
import type { RegistryImage } from '../../src/core/registry-image.js';
import { parsePlatform } from '../../src/core/registry-manifest.js';
import { BlobCache } from '../../src/io/blob-cache.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/io/registry-client.js';
import { dockerConfigCredentials } from '../../src/io/registry-credentials.js';
import { BlobFaultProxy, registryErrorBody } from '../helpers/blob-faults.js';
import { flipByte } from '../helpers/flip-byte.js';
import { buildSyntheticImage, dockerFor, pushImage } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { SelfSignedProxy } from '../helpers/tls-proxy.js';
import { makeTempDir } from '../helpers/tmp.js';
import { TokenServer } from '../helpers/token-server.js';

const run = promisify(execFile);

interface Pushed {
  ref: string;
  digest: string;
  imageId: string;
}

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  prefix: string;
  app: Pushed;
  other: Pushed;
  /** An OCI index (pretty-printed, as some tools write them) naming `app` as linux/arm64/v8 and `other` as linux/amd64. */
  multi: { ref: string; digest: string; bytes: Buffer };
  clients: RegistryClient[];
}

const test = suite<Context>('registry client');
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (isRegistryError(error)) return error;
    throw error;
  }
  throw new Error('expected a RegistryError');
}

async function skopeoRaw(ref: string): Promise<Buffer> {
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { timeout: 60_000, encoding: 'buffer', maxBuffer: 16 << 20 });
  return stdout;
}

async function skopeoCopy(source: string, destination: string): Promise<void> {
  await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', source, destination], { timeout: 120_000 });
}

/** Fast retries, so fault tests spend their time on what the registry asks, not on our own backoff. */
function client(context: Context, options: RegistryClientOptions = {}): RegistryClient {
  const made = new RegistryClient({ attempts: 4, baseDelayMs: 10, maxDelayMs: 50, ...options });
  context.clients.push(made);
  return made;
}

async function fetchAll(registryClient: RegistryClient, image: RegistryImage): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  for (const blob of [image.config, ...image.layers]) blobs.set(blob.digest, await collect(await registryClient.blob(image, blob.digest, blob.size)));
  return blobs;
}

/** Runs `body` with a fault-injecting proxy in front of the registry (stopped afterwards) and the app's reference through it. */
async function throughFaultProxy(context: Context, body: (proxy: BlobFaultProxy, ref: string) => Promise<void>): Promise<void> {
  const proxy = new BlobFaultProxy(context.env.registry);
  const address = await proxy.start();
  try {
    await body(proxy, context.app.ref.replace(context.env.registry, address));
  } finally {
    await proxy.stop();
  }
}

/** The largest layer: the one a mid-blob fault can cut. */
function largest(image: RegistryImage) {
  return [...image.layers].sort((a, b) => b.size - a.size)[0]!;
}

async function dockerConfig(context: Context, name: string, config: unknown): Promise<NodeJS.ProcessEnv> {
  const dir = join(context.work.path, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return { ...process.env, DOCKER_CONFIG: dir };
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    context.clients = [];
    context.prefix = `kfb-regclient-${randomBytes(4).toString('hex')}`;
    const registry = context.env.registry;
    const docker = dockerFor(context.env.builderHost);
    const build = async (name: string): Promise<Pushed> => {
      const ref = `${registry}/${context.prefix}/${name}:1`;
      const imageId = await buildSyntheticImage(docker, ref, { layers: 2, layerBytes: 300 * 1024 });
      return { ref, imageId, digest: await pushImage(docker, ref) };
    };
    context.app = await build('app');
    context.other = await build('other');
    // Both images in one repository, then an index over them, written by hand as a registry would get it from a tool.
    const multiRepo = `${registry}/${context.prefix}/multi`;
    for (const [source, tag] of [[context.app.ref, 'arm64'], [context.other.ref, 'amd64']] as const) {
      await docker.getImage(source).tag({ repo: multiRepo, tag });
      await pushImage(docker, `${multiRepo}:${tag}`);
      await docker.getImage(`${multiRepo}:${tag}`).remove({ force: true });
    }
    const entry = async (pushed: Pushed, platform: Record<string, string>) => ({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      digest: pushed.digest,
      size: (await skopeoRaw(pushed.ref)).length,
      platform,
    });
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        await entry(context.app, { architecture: 'arm64', os: 'linux', variant: 'v8' }),
        await entry(context.other, { architecture: 'amd64', os: 'linux' }),
        // A build attestation, which no platform request may pick.
        await entry(context.app, { architecture: 'unknown', os: 'unknown' }),
      ],
    };
    const bytes = Buffer.from(`${JSON.stringify(index, null, 3)}\n`);
    const put = await fetch(`http://${registry}/v2/${context.prefix}/multi/manifests/1`, { method: 'PUT', headers: { 'content-type': OCI_INDEX }, body: bytes });
    if (put.status !== 201) throw new Error(`index push answered ${put.status}: ${await put.text()}`);
    context.multi = { ref: `${multiRepo}:1`, digest: sha256(bytes), bytes };
    for (const pushed of [context.app, context.other]) await docker.getImage(pushed.ref).remove({ force: true });
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    for (const made of context.clients ?? []) made.close();
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('resolves a tag to the exact manifest bytes the registry serves, with their digest, config and layers', async (context) => {
  const image = await client(context).resolve(context.app.ref);
  const served = await skopeoRaw(context.app.ref);
  assert.ok(image.manifestBytes.equals(served), 'manifest bytes differ from what skopeo reads');
  assert.is(image.manifestDigest, context.app.digest);
  assert.is(image.manifestMediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.is(image.config.digest, context.app.imageId);
  assert.is(image.layers.length, 3);
  assert.equal(image.platform, { os: 'linux', architecture: 'amd64' });
  assert.is(image.indexDigest, undefined);
  assert.is(image.ref, context.app.ref);
  assert.is(image.repository, context.app.ref.replace(/:1$/, ''));
  const manifest = JSON.parse(served.toString('utf8')) as { layers: { digest: string; size: number }[] };
  assert.equal(image.layers.map((layer) => [layer.digest, layer.size]), manifest.layers.map((layer) => [layer.digest, layer.size]));
});

test('a digest-pinned reference resolves to the same image; a digest the registry lacks is not found', async (context) => {
  const registryClient = client(context);
  const pinned = await registryClient.resolve(`${context.app.ref.replace(/:1$/, '')}@${context.app.digest}`);
  assert.is(pinned.manifestDigest, context.app.digest);
  assert.ok(pinned.manifestBytes.equals(await skopeoRaw(context.app.ref)));
  const missing = await failure(registryClient.resolve(`${context.app.ref.replace(/:1$/, '')}@sha256:${'0'.repeat(64)}`));
  assert.is(missing.kind, 'not-found');
  assert.is(missing.code, 'PULL_FAILED');
  assert.match(missing.message, /MANIFEST_UNKNOWN/);
});

test('picks linux/amd64 from an index by default and the platform asked for otherwise, never the attestation', async (context) => {
  const registryClient = client(context);
  const amd64 = await registryClient.resolve(context.multi.ref);
  assert.is(amd64.indexDigest, context.multi.digest);
  assert.ok(amd64.indexBytes?.equals(await skopeoRaw(context.multi.ref)));
  assert.ok(amd64.indexBytes?.equals(context.multi.bytes));
  assert.is(amd64.indexMediaType, OCI_INDEX);
  assert.is(amd64.manifestDigest, context.other.digest);
  assert.is(amd64.config.digest, context.other.imageId);
  assert.equal(amd64.platform, { os: 'linux', architecture: 'amd64' });

  for (const platform of ['linux/arm64', 'linux/arm64/v8']) {
    const arm64 = await registryClient.resolve(context.multi.ref, parsePlatform(platform));
    assert.is(arm64.manifestDigest, context.app.digest, platform);
    assert.equal(arm64.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  }
  const none = await failure(registryClient.resolve(context.multi.ref, parsePlatform('linux/s390x')));
  assert.is(none.kind, 'not-found');
  assert.match(none.message, /has no linux\/s390x image \(it offers linux\/arm64\/v8, linux\/amd64\)/);
});

test('streams every blob with the bytes skopeo copies, each checked against its digest', async (context) => {
  const registryClient = client(context);
  const image = await registryClient.resolve(context.app.ref);
  const dir = join(context.work.path, 'skopeo-app');
  await skopeoCopy(`docker://${context.app.ref}`, `dir:${dir}`);
  const blobs = await fetchAll(registryClient, image);
  assert.is(blobs.size, 4);
  for (const [digest, bytes] of blobs) {
    assert.ok(bytes.equals(await readFile(join(dir, digest.slice('sha256:'.length)))), digest);
  }
});

test('with a cache, a second build fetches no blob and no manifest; a corrupt entry is fetched again', async (context) =>
  throughFaultProxy(context, async (proxy, ref) => {
    const cacheDir = join(context.work.path, 'cache-rerun');
    const first = client(context, { cache: new BlobCache(cacheDir) });
    const image = await first.resolve(ref);
    const blobs = await fetchAll(first, image);
    assert.is(proxy.matching(/^GET .*\/blobs\//).length, 4, 'each blob fetched once, the config too');
    for (const [digest, bytes] of blobs) assert.ok((await readFile(join(cacheDir, 'blobs/sha256', digest.slice(7)))).equals(bytes));

    proxy.setRules([]);
    const second = client(context, { cache: new BlobCache(cacheDir) });
    const again = await second.resolve(ref);
    assert.ok(again.manifestBytes.equals(image.manifestBytes));
    const secondBlobs = await fetchAll(second, again);
    assert.equal(proxy.requests.map((seen) => seen.line.split(' ')[0]), ['HEAD'], 'a HEAD for the tag, nothing else');
    for (const [digest, bytes] of secondBlobs) assert.ok(bytes.equals(blobs.get(digest)!));

    const layer = largest(image);
    const path = join(cacheDir, 'blobs/sha256', layer.digest.slice(7));
    await flipByte(path, Math.floor(layer.size / 2));
    proxy.setRules([]);
    const third = client(context, { cache: new BlobCache(cacheDir) });
    const repaired = await collect(await third.blob(again, layer.digest, layer.size));
    assert.ok(repaired.equals(blobs.get(layer.digest)!));
    assert.equal(proxy.requests.map((seen) => seen.line), [`GET /v2/${context.prefix}/app/blobs/${layer.digest}`]);
    assert.is(sha256(await readFile(path)), layer.digest);
  }),
);

test('two builds sharing a fresh cache fetch the same blobs at once and both succeed', async (context) => {
  const cacheDir = join(context.work.path, 'cache-shared');
  const [a, b] = [client(context, { cache: new BlobCache(cacheDir) }), client(context, { cache: new BlobCache(cacheDir) })];
  const [imageA, imageB] = await Promise.all([a.resolve(context.app.ref), b.resolve(context.app.ref)]);
  const [blobsA, blobsB] = await Promise.all([fetchAll(a, imageA), fetchAll(b, imageB)]);
  for (const [digest, bytes] of blobsA) {
    assert.ok(bytes.equals(blobsB.get(digest)!));
    assert.is(sha256(bytes), digest);
  }
  const names = await readdir(join(cacheDir, 'blobs/sha256'));
  assert.equal(names.filter((name) => name.endsWith('.tmp')), []);
  for (const digest of blobsA.keys()) assert.ok(names.includes(digest.slice(7)));
});

test('429 with Retry-After in seconds or as a date is waited out; 503 and 500 are retried, and bounded', async (context) =>
  throughFaultProxy(context, async (proxy, ref) => {
    const manifests = /^GET \/v2\/.*\/manifests\//;
    const throttled = (retryAfter: string) => ({ kind: 'status' as const, status: 429, headers: { 'retry-after': retryAfter }, body: registryErrorBody('TOOMANYREQUESTS', 'slow down') });

    proxy.setRules([{ match: manifests, fault: throttled('1'), times: 1 }]);
    await client(context).resolve(ref);
    let seen = proxy.matching(manifests);
    assert.equal(seen.map((entry) => entry.status), [429, 200]);
    assert.ok(seen[1]!.at - seen[0]!.at >= 950, `waited ${seen[1]!.at - seen[0]!.at} ms after Retry-After: 1`);

    proxy.setRules([{ match: manifests, fault: throttled(new Date(Date.now() + 2000).toUTCString()), times: 1 }]);
    await client(context).resolve(ref);
    seen = proxy.matching(manifests);
    assert.equal(seen.map((entry) => entry.status), [429, 200]);
    assert.ok(seen[1]!.at - seen[0]!.at >= 900, `waited ${seen[1]!.at - seen[0]!.at} ms after a Retry-After date`);

    const image = await client(context).resolve(ref);
    const layer = largest(image);
    const blob = new RegExp(`^GET .*/blobs/${layer.digest}$`);
    proxy.setRules([{ match: blob, fault: { kind: 'status', status: 503, body: 'unavailable' }, times: 2 }]);
    const bytes = await collect(await client(context).blob(image, layer.digest, layer.size));
    assert.is(sha256(bytes), layer.digest);
    assert.equal(proxy.matching(blob).map((entry) => entry.status), [503, 503, 200]);

    proxy.setRules([{ match: blob, fault: { kind: 'status', status: 500, body: 'broken' }, times: Infinity }]);
    const broken = await failure(client(context).blob(image, layer.digest, layer.size));
    assert.is(broken.kind, 'transient');
    assert.is(broken.status, 500);
    assert.is(proxy.matching(blob).length, 4, 'attempts: 4');

    proxy.setRules([{ match: manifests, fault: throttled('3600'), times: Infinity }]);
    const started = Date.now();
    const limited = await failure(client(context).resolve(ref));
    assert.match(limited.message, /asks to wait 3600 s/);
    assert.ok(Date.now() - started < 5000, 'an hour-long Retry-After fails at once');
  }),
);

test('404, 403 and a 401 without a challenge are answered once, never retried', async (context) =>
  throughFaultProxy(context, async (proxy, ref) => {
    const manifests = /^GET \/v2\/.*\/manifests\//;
    const cases: [number, string][] = [
      [404, 'not-found'],
      [403, 'denied'],
      [401, 'denied'],
    ];
    for (const [status, kind] of cases) {
      proxy.setRules([{ match: manifests, fault: { kind: 'status', status, body: registryErrorBody('X', `injected ${status}`) }, times: Infinity }]);
      const error = await failure(client(context).resolve(ref));
      assert.is(error.kind, kind, String(status));
      assert.is(proxy.matching(manifests).length, 1, `${status} asked once`);
      assert.match(error.message, new RegExp(`${context.prefix}/app`));
    }
    const closed = await failure(client(context, { attempts: 2 }).resolve(`127.0.0.1:9/${context.prefix}/app:1`));
    assert.is(closed.kind, 'transient');
    assert.match(closed.message, /127\.0\.0\.1:9/);
  }),
);

test('a connection dropped mid-blob is resumed with a Range request, or fetched again when Range is ignored', async (context) =>
  throughFaultProxy(context, async (proxy, ref) => {
    const image = await client(context).resolve(ref);
    const layer = largest(image);
    const blob = new RegExp(`^GET .*/blobs/${layer.digest}$`);
    const cut = Math.floor(layer.size / 3);

    proxy.setRules([{ match: blob, fault: { kind: 'drop', afterBytes: cut }, times: 1 }]);
    const resumed = await collect(await client(context).blob(image, layer.digest, layer.size));
    assert.is(sha256(resumed), layer.digest);
    let seen = proxy.matching(blob);
    assert.is(seen.length, 2);
    assert.is(seen[0]!.range, undefined);
    const offset = Number(/^bytes=(\d+)-$/.exec(seen[1]!.range ?? '')?.[1]);
    assert.ok(offset > 0 && offset <= cut, `resumed at ${seen[1]!.range}`);
    assert.is(seen[1]!.status, 206);

    proxy.setRules([
      { match: blob, fault: { kind: 'drop', afterBytes: cut }, times: 1 },
      { match: blob, fault: { kind: 'no-range' }, times: Infinity },
    ]);
    const cacheDir = join(context.work.path, 'cache-drop');
    const refetched = await collect(await client(context, { cache: new BlobCache(cacheDir) }).blob(image, layer.digest, layer.size));
    assert.is(sha256(refetched), layer.digest);
    seen = proxy.matching(blob);
    assert.is(seen.length, 2);
    assert.match(seen[1]!.range ?? '', /^bytes=\d+-$/);
    assert.is(seen[1]!.status, 200, 'the server ignored the Range and sent it all');
    assert.is(sha256(await readFile(join(cacheDir, 'blobs/sha256', layer.digest.slice(7)))), layer.digest);
  }),
);

test('a blob whose bytes do not match its digest is refused, and never enters the cache', async (context) =>
  throughFaultProxy(context, async (proxy, ref) => {
    const image = await client(context).resolve(ref);
    const layer = largest(image);
    const blob = new RegExp(`^GET .*/blobs/${layer.digest}$`);

    proxy.setRules([{ match: blob, fault: { kind: 'corrupt', atByte: 1000 }, times: Infinity }]);
    const stream = await client(context).blob(image, layer.digest, layer.size);
    const streamed = await failure(collect(stream));
    assert.is(streamed.code, 'DIGEST_MISMATCH');
    assert.match(streamed.message, new RegExp(`${layer.digest}; the bytes are refused`));

    const cacheDir = join(context.work.path, 'cache-corrupt');
    const cache = new BlobCache(cacheDir);
    const cached = await failure(client(context, { cache }).blob(image, layer.digest, layer.size));
    assert.is(cached.code, 'DIGEST_MISMATCH');
    assert.not.ok(await cache.has(layer.digest));
    assert.equal((await readdir(join(cacheDir, 'blobs/sha256'))).filter((name) => name.includes(layer.digest.slice(7))), []);
    assert.is(proxy.matching(blob).length, 2, 'refused, not fetched again behind the caller\'s back');
  }),
);

test('no more blob downloads at once than the concurrency allows', async (context) => {
  const registryClient = client(context, { concurrency: 2 });
  const image = await registryClient.resolve(context.app.ref);
  const pending = image.layers.map((layer) => registryClient.blob(image, layer.digest, layer.size));
  let thirdSettled = false;
  void pending[2]!.then(() => (thirdSettled = true));
  const [first, second] = await Promise.all([pending[0]!, pending[1]!]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.not.ok(thirdSettled, 'a third download started while two streams were open');
  assert.is(sha256(await collect(first)), image.layers[0]!.digest);
  const third = await pending[2]!;
  assert.is(sha256(await collect(second)), image.layers[1]!.digest);
  assert.is(sha256(await collect(third)), image.layers[2]!.digest);
});

test('bearer tokens: anonymous for public repositories, from the Docker config, a helper or an identity token', async (context) => {
  const registry = context.env.registry;
  for (const visibility of ['public', 'private']) {
    await skopeoCopy(`docker://${context.app.ref}`, `docker://${registry}/${context.prefix}/${visibility}/app:1`);
  }
  const server = new TokenServer({
    registry,
    scheme: 'bearer',
    users: { alice: 'wonderland' },
    refreshTokens: { 'rt-alice': 'alice' },
    publicPrefixes: [`${context.prefix}/public/`],
  });
  const address = await server.start();
  try {
    const publicRef = `${address}/${context.prefix}/public/app:1`;
    const privateRef = `${address}/${context.prefix}/private/app:1`;
    const anonymous = client(context, { credentials: dockerConfigCredentials({ env: await dockerConfig(context, 'empty', {}) }) });
    const open = await anonymous.resolve(publicRef);
    assert.is(open.manifestDigest, context.app.digest);
    assert.equal(server.tokenRequests.map((request) => request.who), ['anonymous']);
    const refused = await failure(anonymous.resolve(privateRef));
    assert.is(refused.kind, 'denied');
    assert.match(refused.message, /the Docker config has none for 127\.0\.0\.1:\d+/);
    assert.match(refused.hint ?? '', /docker login 127\.0\.0\.1:\d+/);

    const basicAuth = Buffer.from('alice:wonderland').toString('base64');
    const configs: [string, unknown][] = [
      ['auths', { auths: { [address]: { auth: basicAuth } } }],
      ['identity-token', { auths: { [`http://${address}`]: { identitytoken: 'rt-alice' } } }],
      ['cred-helpers', { credHelpers: { [address]: 'kfbtest' } }],
      ['creds-store', { credsStore: 'kfbtest' }],
    ];
    const bin = join(context.work.path, 'helper-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'docker-credential-kfbtest'), `#!/bin/sh\nread -r server\n[ "$server" = "${address}" ] || { echo 'credentials not found in native keychain'; exit 1; }\necho '{"ServerURL":"${address}","Username":"alice","Secret":"wonderland"}'\n`);
    await chmod(join(bin, 'docker-credential-kfbtest'), 0o755);
    for (const [name, config] of configs) {
      server.tokenRequests.splice(0);
      const env = { ...(await dockerConfig(context, name, config)), PATH: `${bin}:${process.env['PATH'] ?? ''}` };
      const alice = client(context, { credentials: dockerConfigCredentials({ env }) });
      const image = await alice.resolve(privateRef);
      assert.is(image.manifestDigest, context.app.digest, name);
      const layer = largest(image);
      assert.is(sha256(await collect(await alice.blob(image, layer.digest, layer.size))), layer.digest, name);
      assert.ok(server.tokenRequests.length > 0 && server.tokenRequests.every((request) => request.who === 'alice'), `${name}: ${JSON.stringify(server.tokenRequests)}`);
      assert.is(server.tokenRequests[0]!.method, name === 'identity-token' ? 'POST' : 'GET', name);
    }

    const wrong = client(context, { credentials: dockerConfigCredentials({ env: await dockerConfig(context, 'wrong', { auths: { [address]: { auth: Buffer.from('alice:nope').toString('base64') } } }) }) });
    const rejected = await failure(wrong.resolve(privateRef));
    assert.is(rejected.kind, 'denied');
    assert.match(rejected.message, /with the credentials from the Docker config/);
  } finally {
    await server.stop();
  }
});

test('a token is fetched once per scope and fetched again when the registry stops taking it', async (context) => {
  const server = new TokenServer({ registry: context.env.registry, scheme: 'bearer', users: {}, publicPrefixes: [`${context.prefix}/`] });
  const address = await server.start();
  try {
    const registryClient = client(context);
    const ref = `${address}/${context.prefix}/app:1`;
    const image = await registryClient.resolve(ref);
    await fetchAll(registryClient, image);
    const unauthorised = () => server.requests.filter((request) => request.status === 401).length;
    assert.is(unauthorised(), 1, 'one challenge, then the token is sent up front');
    assert.is(server.tokenRequests.length, 1);

    server.revokeTokens();
    const again = await registryClient.resolve(ref);
    assert.is(again.manifestDigest, context.app.digest);
    assert.is(unauthorised(), 2);
    assert.is(server.tokenRequests.length, 2);
  } finally {
    await server.stop();
  }
});

test('a front that redirects every request to a backend with its own token auth, as registry.k8s.io does', async (context) => {
  const backend = new TokenServer({ registry: context.env.registry, scheme: 'bearer', users: {}, publicPrefixes: [`${context.prefix}/`] });
  const backendAddress = await backend.start();
  const front = new TokenServer({ registry: context.env.registry, scheme: 'none', users: {}, redirectApiTo: backendAddress });
  const frontAddress = await front.start();
  try {
    const registryClient = client(context);
    const image = await registryClient.resolve(`${frontAddress}/${context.prefix}/app:1`);
    assert.is(image.manifestDigest, context.app.digest);
    const blobs = await fetchAll(registryClient, image);
    for (const [digest, bytes] of blobs) assert.is(sha256(bytes), digest);
    assert.ok(front.requests.length > 0 && front.requests.every((request) => request.status === 307));
    assert.ok(backend.requests.filter((request) => request.status === 200).every((request) => request.authorization?.startsWith('Bearer ') === true));
    assert.equal(backend.tokenRequests.map((request) => request.who), ['anonymous'], 'one anonymous token for the backend, reused');
  } finally {
    await front.stop();
    await backend.stop();
  }
});

test('Basic auth: credentials from the Docker config are sent; without them access is denied', async (context) => {
  const server = new TokenServer({ registry: context.env.registry, scheme: 'basic', users: { bob: 'builder' } });
  const address = await server.start();
  try {
    const ref = `${address}/${context.prefix}/app:1`;
    const denied = await failure(client(context).resolve(ref));
    assert.is(denied.kind, 'denied');
    const env = await dockerConfig(context, 'basic', { auths: { [address]: { auth: Buffer.from('bob:builder').toString('base64') } } });
    const bob = client(context, { credentials: dockerConfigCredentials({ env }) });
    const image = await bob.resolve(ref);
    assert.is(image.manifestDigest, context.app.digest);
    const layer = largest(image);
    assert.is(sha256(await collect(await bob.blob(image, layer.digest, layer.size))), layer.digest);
  } finally {
    await server.stop();
  }
});

test('blob redirects to storage on another host are followed without the registry\'s Authorization', async (context) => {
  const server = new TokenServer({ registry: context.env.registry, scheme: 'bearer', users: { alice: 'wonderland' }, redirectBlobs: true });
  const address = await server.start();
  try {
    const env = await dockerConfig(context, 'redirect', { auths: { [address]: { auth: Buffer.from('alice:wonderland').toString('base64') } } });
    const alice = client(context, { credentials: dockerConfigCredentials({ env }) });
    const image = await alice.resolve(`${address}/${context.prefix}/app:1`);
    const blobs = await fetchAll(alice, image);
    for (const [digest, bytes] of blobs) assert.is(sha256(bytes), digest);
    // The config is fetched twice without a cache: once to learn the platform, once as a blob.
    assert.equal(new Set(server.storeRequests.map((request) => request.path.split('/').pop())), new Set(blobs.keys()));
    assert.ok(server.storeRequests.every((request) => request.authorization === undefined && request.status === 200), JSON.stringify(server.storeRequests));
    const redirected = server.requests.filter((request) => request.line.includes('/blobs/') && request.status === 307);
    assert.is(redirected.length, server.storeRequests.length);
    assert.ok(redirected.every((request) => request.authorization?.startsWith('Bearer ') === true));
  } finally {
    await server.stop();
  }
});

test('push keeps the upstream manifest digest; blobs already there are skipped; the engine pulls the result', async (context) => {
  const source = client(context, { cache: new BlobCache(join(context.work.path, 'cache-push')) });
  const image = await source.resolve(context.multi.ref);
  const target = `${context.env.secondRegistry}/${context.prefix}/copy:1`;
  const pushed = await source.push(image, target);
  assert.is(pushed.manifestDigest, context.other.digest);
  assert.ok((await skopeoRaw(target)).equals(image.manifestBytes));
  assert.equal(new Set(Object.values(pushed.blobs)), new Set(['uploaded']));
  assert.is(Object.keys(pushed.blobs).length, 4);

  const again = await source.push(image, target);
  assert.equal(new Set(Object.values(again.blobs)), new Set(['existing']));

  // In PATCH chunks smaller than every layer, then pulled by a real engine, which checks every byte and the image ID.
  const chunkedTarget = `${context.env.secondRegistry}/${context.prefix}/chunked:1`;
  const chunked = await source.push(image, chunkedTarget, { chunkSize: 64 * 1024 });
  assert.is(chunked.manifestDigest, image.manifestDigest);
  const docker = dockerFor(context.env.builderHost);
  await new Promise<void>((resolve, reject) => {
    docker.pull(chunkedTarget, (error: Error | null, stream: Readable) => {
      if (error !== null) return reject(error);
      docker.modem.followProgress(stream, (failed: Error | null) => (failed === null ? resolve() : reject(failed)));
    });
  });
  const pulled = await docker.getImage(chunkedTarget).inspect();
  assert.is(pulled.Id, context.other.imageId);
  assert.ok(pulled.RepoDigests.includes(`${chunkedTarget.replace(/:1$/, '')}@${image.manifestDigest}`));
  await docker.getImage(chunkedTarget).remove({ force: true });
});

test('push mounts blobs from a repository on the same registry instead of uploading them', async (context) => {
  const registryClient = client(context);
  const image = await registryClient.resolve(context.app.ref);
  const target = `${context.env.registry}/${context.prefix}/mounted:1`;
  const pushed = await registryClient.push(image, target, { mountFrom: `${context.env.registry}/${context.prefix}/app` });
  assert.equal(new Set(Object.values(pushed.blobs)), new Set(['mounted']));
  assert.ok((await skopeoRaw(target)).equals(image.manifestBytes));
});

test('push through token auth asks for push scope with the credentials; anonymous push is denied', async (context) => {
  const server = new TokenServer({ registry: context.env.registry, scheme: 'bearer', users: { alice: 'wonderland' }, publicPrefixes: [`${context.prefix}/`] });
  const address = await server.start();
  try {
    const image = await client(context).resolve(context.app.ref);
    const target = `${address}/${context.prefix}/pushed-with-token:1`;
    const denied = await failure(client(context).push(image, target));
    assert.is(denied.kind, 'denied');
    assert.match(denied.message, /push to/);
    const env = await dockerConfig(context, 'push', { auths: { [address]: { auth: Buffer.from('alice:wonderland').toString('base64') } } });
    const pushed = await client(context, { credentials: dockerConfigCredentials({ env }) }).push(image, target);
    assert.is(pushed.manifestDigest, context.app.digest);
    assert.ok((await skopeoRaw(`${context.env.registry}/${context.prefix}/pushed-with-token:1`)).equals(image.manifestBytes));
    assert.ok(server.tokenRequests.some((request) => request.who === 'alice' && request.granted.includes(`${context.prefix}/pushed-with-token:push`)));
  } finally {
    await server.stop();
  }
});

test('insecure registries: TLS without verification for a self-signed one, plain HTTP when TLS fails', async (context) => {
  const proxy = new SelfSignedProxy(context.env.registry);
  const address = await proxy.start();
  try {
    const ref = `${address}/${context.prefix}/app:1`;
    // Loopback means plain HTTP unless listed, and plain HTTP to a TLS port fails.
    const plain = await failure(client(context, { attempts: 1 }).resolve(ref));
    assert.is(plain.code, 'PULL_FAILED');
    assert.equal(proxy.requests, []);
    const image = await client(context, { insecureRegistries: [address] }).resolve(ref);
    assert.is(image.manifestDigest, context.app.digest);
    assert.ok(proxy.requests.some((line) => line.startsWith('GET /v2/')), 'served over TLS');

    const fallback = await client(context, { insecureRegistries: [context.env.registry.split(':')[0]!] }).resolve(context.app.ref);
    assert.is(fallback.manifestDigest, context.app.digest);
  } finally {
    await proxy.stop();
  }
});

test.run();
