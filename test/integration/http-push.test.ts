// install.sh --registry on a node with neither Docker nor ctr: curl pushes every image straight from the bundle's
// archives over the registry HTTP API (installer/registry-http.sh). The images Docker and containerd pull back are
// the bundle's (its image IDs, the upstream manifest digests); every blob crosses the wire once, the other
// repositories mount it, a rerun sends none and a second bundle sends only its new ones (counted at a front that sees
// every request); logins as the registry asks (basic on a real htpasswd registry, bearer tokens), TLS with a CA file,
// split and staged archives; a tampered bundle reaches no registry at all.

import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { QUICK_MS, runCommand, runKfbundle, type RunResult } from '../helpers/cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { flipByte } from '../helpers/flip-byte.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { OwnRegistry } from '../helpers/own-registry.js';
import { fetchRegistryImage, MEDIA, mountBlob, pushTwoPlatformList, putManifest, sha256 } from '../helpers/registry-blobs.js';
import { dockerFor } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';
import { TokenServer } from '../helpers/token-server.js';
import { buildAndPush } from '../helpers/layered-images.js';

/** An image as the source registry serves it (linux/amd64): the truth every push is compared with. */
interface Upstream {
  /** The bundle's reference, `gcr.io/<ns>/web:1`. */
  ref: string;
  repository: string;
  /** What the tag must serve once pushed: the manifest, or the index the bundle holds whole. */
  tagDigest: string;
  configDigest: string;
  /** Config and layers. */
  blobs: string[];
}

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  ns: string;
  /** Bundle 1 (5 images, 3 archives in 2 stages), the same split in parts, bundle 2 (2 images on bundle 1's base). */
  bundle: string;
  split: string;
  second: string;
  first: Upstream[];
  next: Upstream[];
  metadata: BundleMetadata;
  /** A directory of links to the only tools the push may use: no docker, no ctr, no openssl. */
  tools: string;
}

const test = suite<Context>('push over the registry HTTP API');
const INSTALL_MS = 180_000;
// Everything the installer runs for verify and push: bash, coreutils, sed, awk, grep, find and curl.
const TOOLS = ['bash', 'cat', 'sed', 'awk', 'grep', 'find', 'sort', 'comm', 'wc', 'cut', 'head', 'tail', 'dd', 'stat', 'mktemp', 'rm', 'mkdir', 'cp', 'mv', 'paste', 'nproc', 'sha256sum', 'dirname', 'basename', 'sleep', 'curl'];
const ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(', ');

/** What the source registry serves for a bundle reference, through the mirror prefix. */
async function upstream(env: TestEnv, ns: string, ref: string, servesIndex = false): Promise<Upstream> {
  const image = await fetchRegistryImage(`${env.registry}/${ns}/${ref}`);
  const tagDigest = servesIndex ? image.indexDigest! : image.manifestDigest;
  return { ref, repository: ref.slice(0, ref.lastIndexOf(':')), tagDigest, configDigest: image.config.digest, blobs: [image.config.digest, ...image.layers.map((layer) => layer.digest)] };
}

async function build(context: Context, images: readonly string[], out: string, extra: string[]): Promise<BundleMetadata> {
  const rendered = join(context.work.path, `${out}.yaml`);
  await writeFile(rendered, images.map((image, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${image}"}\n`)).join('---\n'));
  const root = `${context.env.registry}/${context.ns}`;
  const mirrors = ['gcr.io', 'ghcr.io', 'docker.io'].flatMap((host) => ['--mirror', `${host}=${root}/${host}`]);
  const result = await runKfbundle(
    ['build', '--no-seed-registry', '--manifests', rendered, '--out', join(context.work.path, out), '--cache', join(context.work.path, 'cache'), '--json', '--no-progress', ...mirrors, ...extra],
    { env: { DOCKER_HOST: `unix://${join(context.work.path, 'no-engine.sock')}` }, timeoutMs: 300_000 },
  );
  assert.is(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { metadata: BundleMetadata }).metadata;
}

async function makeTools(dir: string): Promise<void> {
  await mkdir(dir);
  for (const tool of TOOLS) {
    const found = [];
    for (const bin of ['/usr/local/bin', '/usr/bin', '/bin']) {
      if (await access(join(bin, tool)).then(() => true, () => false)) found.push(join(bin, tool));
    }
    assert.ok(found.length > 0, `${tool} is on this machine`);
    await symlink(found[0]!, join(dir, tool));
  }
}

/** install.sh --images-only with PATH holding the listed tools only (no engine), unless `env` says otherwise. */
function install(context: Context, bundle: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return runCommand('bash', [join(bundle, 'install.sh'), '--images-only', '--retry-delay', '1', ...args], {
    env: {
      PATH: context.tools,
      HOME: join(context.work.path, 'home'),
      DOCKER_HOST: `unix://${join(context.work.path, 'no-docker.sock')}`,
      CONTAINERD_ADDRESS: join(context.work.path, 'no-containerd.sock'),
      KFB_REGISTRY_AUTH: '',
      TMPDIR: join(context.work.path, 'tmp'),
      ...env,
    },
    timeoutMs: INSTALL_MS,
  });
}

const output = (result: RunResult) => `${result.stdout}\n${result.stderr}`;

/** Runs `body` while reading every process's command line; says whether any held `secret`, and how many curls it saw. */
async function watchingCommandLines(secret: string, body: () => Promise<RunResult>): Promise<{ result: RunResult; curls: number; leaked: string[] }> {
  const curls = new Set<string>();
  const leaked: string[] = [];
  let done = false;
  const poll = (async () => {
    while (!done) {
      for (const pid of await readdir('/proc')) {
        if (!/^[0-9]+$/.test(pid)) continue;
        const line = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (line.includes(secret)) leaked.push(line.replaceAll('\0', ' '));
        if (line.startsWith('curl\0')) curls.add(`${pid} ${line}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    return { result: await body(), curls: curls.size, leaked };
  } finally {
    done = true;
    await poll;
  }
}

/** Upload PUTs the front saw since request `from` (the digests sent), and mounts it granted. */
function uploads(requests: readonly { line: string; status: number }[], from: number): { sent: string[]; mounted: number; started: number } {
  const recent = requests.slice(from);
  const sent = recent
    .filter((request) => request.status === 201 && /^PUT \/v2\/.+\/blobs\/uploads\//.test(request.line))
    .map((request) => decodeURIComponent(/[?&]digest=([^&]+)/.exec(request.line)![1]!));
  const mounted = recent.filter((request) => request.status === 201 && /^POST \/v2\/.+\/blobs\/uploads\/\?mount=/.test(request.line)).length;
  const started = recent.filter((request) => /^POST \/v2\/.+\/blobs\/uploads\/$/.test(request.line)).length;
  return { sent: sent.sort(), mounted, started };
}

/** Every distinct blob of the images, and how many mounts a push into empty repositories needs (one repository uploads). */
function blobPlan(images: readonly Upstream[]): { blobs: string[]; mounts: number } {
  const repositories = new Map<string, Set<string>>();
  for (const image of images) for (const blob of image.blobs) repositories.set(blob, (repositories.get(blob) ?? new Set()).add(image.repository));
  let mounts = 0;
  for (const set of repositories.values()) mounts += set.size - 1;
  return { blobs: [...repositories.keys()].sort(), mounts };
}

/** manifests.txt's digest for each reference. */
async function manifestDigests(bundle: string): Promise<Map<string, string>> {
  const text = await readFile(join(bundle, 'images/manifests.txt'), 'utf8');
  return new Map(text.trim().split('\n').map((line) => line.split('\t')).map(([ref, digest]) => [ref!, digest!]));
}

/** The digest a plain-HTTP registry serves for `repository:tag`, checked against the bytes it serves. */
async function servedDigest(registry: string, repository: string, tag: string): Promise<string | undefined> {
  const response = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, { headers: { accept: ACCEPT }, signal: AbortSignal.timeout(QUICK_MS) });
  if (response.status === 404) return undefined;
  assert.is(response.status, 200, `${registry}/${repository}:${tag}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.is(response.headers.get('docker-content-digest'), sha256(bytes), `${registry}/${repository}:${tag}: the digest of the bytes served`);
  return sha256(bytes);
}

async function assertServed(registry: string, images: readonly Upstream[], bundle: string): Promise<void> {
  const recorded = await manifestDigests(bundle);
  for (const image of images) {
    assert.is(recorded.get(image.ref), image.tagDigest, `images/manifests.txt: ${image.ref}`);
    assert.is(await servedDigest(registry, `${image.repository}`, image.ref.slice(image.ref.lastIndexOf(':') + 1)), image.tagDigest, `${registry}/${image.ref}`);
  }
}

const ctr = (env: TestEnv, args: string[]) => runCommand('ctr', ['--address', env.containerdAddress, '-n', 'k8s.io', ...args], { timeoutMs: 120_000 });

/** The config digest (image ID) of what containerd pulled as `ref`: through its index, the linux/amd64 manifest. */
async function containerdImageId(env: TestEnv, ref: string): Promise<string> {
  const listed = await ctr(env, ['images', 'ls']);
  const target = listed.stdout.split('\n').map((line) => line.split(/\s+/)).find(([name]) => name === ref)?.[2];
  assert.ok(target !== undefined, `containerd lists ${ref}: ${listed.stdout}`);
  let content = JSON.parse((await ctr(env, ['content', 'get', target])).stdout) as { manifests?: { digest: string; platform?: { architecture: string } }[]; config?: { digest: string } };
  if (content.manifests !== undefined) {
    const child = content.manifests.find((entry) => entry.platform?.architecture === 'amd64')!;
    content = JSON.parse((await ctr(env, ['content', 'get', child.digest])).stdout) as typeof content;
  }
  return content.config!.digest;
}

test.before(
  loudHook('http push setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-http-push-');
    await mkdir(join(context.work.path, 'home'));
    await mkdir(join(context.work.path, 'tmp'));
    context.ns = `kfbhp-${randomBytes(4).toString('hex')}`;
    const { env, ns, work } = context;
    const src = `${env.registry}/${ns}`;
    const dir = join(work.path, 'images');
    await buildAndPush(env, `${src}/gcr.io/${ns}/base:1`, undefined, 1000, dir);
    for (const name of ['web:1', 'worker:1', 'web:2', 'extra:1']) await buildAndPush(env, `${src}/gcr.io/${ns}/${name}`, `${src}/gcr.io/${ns}/base:1`, 40_000, dir);
    await buildAndPush(env, `${src}/docker.io/${ns}/solo:1`, undefined, 30_000, dir);
    // A two-platform list the bundle holds one platform of, and a one-platform OCI index it holds whole.
    await buildAndPush(env, `${src}/ghcr.io/${ns}/multi:amd64`, undefined, 20_000, dir);
    const amd64 = await fetchRegistryImage(`${src}/ghcr.io/${ns}/multi:amd64`);
    await pushTwoPlatformList(`${src}/ghcr.io/${ns}/multi`, '1', { bytes: amd64.manifestBytes, digest: amd64.manifestDigest, mediaType: amd64.manifestMediaType, configDigest: amd64.config.digest });
    const web = await fetchRegistryImage(`${src}/gcr.io/${ns}/web:1`);
    for (const blob of [web.config, ...web.layers]) await mountBlob(`${src}/gcr.io/${ns}/whole`, blob.digest, `${src}/gcr.io/${ns}/web`);
    await putManifest(`${src}/gcr.io/${ns}/whole`, web.manifestDigest, web.manifestBytes, web.manifestMediaType);
    const index = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: web.manifestMediaType, size: web.manifestBytes.length, digest: web.manifestDigest, platform: { architecture: 'amd64', os: 'linux' } }] };
    await putManifest(`${src}/gcr.io/${ns}/whole`, '1', Buffer.from(JSON.stringify(index)), MEDIA.ociIndex);
    for (const docker of [dockerFor(env.builderHost)]) {
      for (const image of await docker.listImages()) for (const tag of image.RepoTags ?? []) if (tag.includes(`/${ns}/`)) await docker.getImage(tag).remove({ force: true });
    }

    const firstRefs = [`gcr.io/${ns}/web:1`, `gcr.io/${ns}/worker:1`, `docker.io/${ns}/solo:1`, `ghcr.io/${ns}/multi:1`, `gcr.io/${ns}/whole:1`];
    context.first = await Promise.all(firstRefs.map((ref) => upstream(env, ns, ref, ref.includes('/whole:'))));
    context.next = await Promise.all([`gcr.io/${ns}/web:2`, `gcr.io/${ns}/extra:1`].map((ref) => upstream(env, ns, ref)));
    context.bundle = join(work.path, 'bundle');
    context.metadata = await build(context, firstRefs, 'bundle', ['--archives', '3']);
    context.split = join(work.path, 'split');
    await build(context, firstRefs, 'split', ['--archives', '3', '--split-size', '64Ki']);
    context.second = join(work.path, 'second');
    await build(context, context.next.map((image) => image.ref), 'second', []);
    context.tools = join(work.path, 'tools');
    await makeTools(context.tools);
  }),
);

test.after(
  loudHook('http push teardown', async (context) => {
    if (context.env !== undefined && context.ns !== undefined) {
      const target = dockerFor(context.env.targetHost);
      for (const image of await target.listImages()) for (const tag of image.RepoTags ?? []) if (tag.includes(`/${context.ns}/`)) await target.getImage(tag).remove({ force: true }).catch(() => {});
      const listed = await ctr(context.env, ['images', 'ls', '-q']);
      const ours = listed.stdout.split('\n').filter((ref) => ref.includes(`/${context.ns}/`));
      if (ours.length > 0) await ctr(context.env, ['images', 'rm', '--sync', ...ours]);
    }
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('the bundle holds stage-2 archives and a push plan; the tools given hold no engine', async (context) => {
  const stages = (await readFile(join(context.bundle, 'images/archives.txt'), 'utf8')).trim().split('\n').map((line) => line.split('\t')[0]);
  assert.ok(stages.includes('1') && stages.includes('2'), `stages: ${stages.join(' ')}`);
  await access(join(context.bundle, 'images/push.txt'));
  const which = await runCommand('bash', ['-c', 'command -v docker || command -v ctr || command -v openssl || echo none'], { env: { PATH: context.tools } });
  assert.is(which.stdout.trim(), 'none');
});

test('no engine on the node: every blob sent once and mounted elsewhere; Docker and containerd pull back the bundle images', async (context) => {
  const { env, ns } = context;
  const front = new TokenServer({ registry: env.secondRegistry, scheme: 'none', users: {} });
  await front.start();
  try {
    const result = await install(context, context.bundle, ['--registry', `${front.address}/${ns}/first`]);
    assert.is(result.code, 0, output(result));
    assert.match(result.stdout, 'neither Docker nor containerd answers on this node: pushing with curl');
    const plan = blobPlan(context.first);
    const seen = uploads(front.requests, 0);
    assert.equal(seen.sent, plan.blobs, 'each distinct blob uploaded exactly once');
    assert.is(seen.started, plan.blobs.length);
    assert.is(seen.mounted, plan.mounts, 'every other repository mounts it');
    assert.match(result.stdout, `${plan.blobs.length} blobs sent`);
    assert.match(result.stdout, `${context.first.length} of ${context.first.length} read back from ${front.address}/${ns}/first with their upstream digests`);
  } finally {
    await front.stop();
  }

  const registry = `${env.secondRegistry}/${ns}/first`;
  await assertServed(`${env.secondRegistry}`, context.first.map((image) => ({ ...image, repository: `${ns}/first/${image.repository}` })), context.bundle);
  const ids = new Map(context.metadata.images.map((image) => [image.bundleRef, image.imageId]));
  const target = dockerFor(env.targetHost);
  for (const image of context.first) {
    assert.is(ids.get(image.ref), image.configDigest, `bundle.json: ${image.ref}`);
    const ref = `${registry}/${image.ref}`;
    const pulled = await runCommand('docker', ['-H', env.targetHost, 'pull', ref], { timeoutMs: 120_000 });
    assert.is(pulled.code, 0, `docker pull ${ref}: ${pulled.stderr}`);
    assert.is((await target.getImage(ref).inspect()).Id, ids.get(image.ref), `Docker: ${ref}`);
    const fetched = await ctr(env, ['images', 'pull', '--plain-http', ref]);
    assert.is(fetched.code, 0, `ctr pull ${ref}: ${fetched.stderr}`);
    assert.is(await containerdImageId(env, ref), ids.get(image.ref), `containerd: ${ref}`);
  }
});

test('a rerun sends no blob; a second bundle on the same base sends only its new blobs', async (context) => {
  const { env, ns } = context;
  const front = new TokenServer({ registry: env.secondRegistry, scheme: 'none', users: {} });
  await front.start();
  try {
    const registry = `${front.address}/${ns}/again`;
    const first = await install(context, context.bundle, ['--registry', registry]);
    assert.is(first.code, 0, output(first));
    const before = front.requests.length;
    const rerun = await install(context, context.bundle, ['--registry', registry]);
    assert.is(rerun.code, 0, output(rerun));
    assert.equal(uploads(front.requests, before), { sent: [], mounted: 0, started: 0 }, 'nothing uploaded or mounted');
    assert.ok(front.requests.slice(before).some((request) => request.line.startsWith('HEAD ') && request.line.includes('/blobs/')), 'it asked');
    assert.match(rerun.stdout, /: 0 blobs sent \(0 B\), \d+ already there, 0 mounted/);

    const known = new Set(context.first.flatMap((image) => image.blobs));
    const fresh = [...new Set(context.next.flatMap((image) => image.blobs))].filter((blob) => !known.has(blob)).sort();
    assert.ok(fresh.length > 0 && fresh.length < new Set(context.next.flatMap((image) => image.blobs)).size, 'the second bundle shares blobs and has its own');
    const from = front.requests.length;
    const second = await install(context, context.second, ['--registry', registry]);
    assert.is(second.code, 0, output(second));
    assert.equal(uploads(front.requests, from).sent, fresh, 'only the blobs bundle 1 did not have');
  } finally {
    await front.stop();
  }
  await assertServed(env.secondRegistry, context.next.map((image) => ({ ...image, repository: `${ns}/again/${image.repository}` })), context.second);
});

test('--push-with http where Docker and ctr answer: pushed over HTTP, nothing loaded into either', async (context) => {
  const { env, ns } = context;
  const registry = `${env.secondRegistry}/${ns}/with-engines`;
  const result = await runCommand('bash', [join(context.bundle, 'install.sh'), '--images-only', '--push-with', 'http', '--registry', registry], {
    env: { DOCKER_HOST: env.targetHost, CONTAINERD_ADDRESS: env.containerdAddress, KFB_REGISTRY_AUTH: '' },
    timeoutMs: INSTALL_MS,
  });
  assert.is(result.code, 0, output(result));
  assert.match(result.stdout, 'over the registry HTTP API');
  assert.not.match(result.stdout, 'neither Docker nor containerd answers');
  await assertServed(env.secondRegistry, context.first.map((image) => ({ ...image, repository: `${ns}/with-engines/${image.repository}` })), context.bundle);
  const inDocker = await runCommand('docker', ['-H', env.targetHost, 'image', 'inspect', context.first[0]!.ref], { timeoutMs: QUICK_MS });
  assert.is.not(inDocker.code, 0, 'not loaded into Docker');
  const namespaces = await runCommand('ctr', ['--address', env.containerdAddress, 'namespaces', 'ls', '-q'], { timeoutMs: QUICK_MS });
  assert.not.ok(namespaces.stdout.split('\n').includes('kfbundle-push'), 'no containerd namespace of the installer');
  const listed = await ctr(env, ['images', 'ls', '-q']);
  assert.not.ok(listed.stdout.split('\n').includes(context.first[0]!.ref), 'not imported into containerd');
});

test('split archives and stage-2 archives push as the whole bundle does', async (context) => {
  const { env, ns } = context;
  const parts = (await readdir(join(context.split, 'images'))).filter((name) => /\.tar\.[0-9]{4}$/.test(name));
  assert.ok(parts.length > 4, `parts: ${parts.join(' ')}`);
  const result = await install(context, context.split, ['--registry', `${env.secondRegistry}/${ns}/split`, '--parallel', '3']);
  assert.is(result.code, 0, output(result));
  assert.match(result.stdout, '3 at a time');
  await assertServed(env.secondRegistry, context.first.map((image) => ({ ...image, repository: `${ns}/split/${image.repository}` })), context.split);
  const ref = `${env.secondRegistry}/${ns}/split/${context.first[1]!.ref}`;
  const pulled = await runCommand('docker', ['-H', env.targetHost, 'pull', ref], { timeoutMs: 120_000 });
  assert.is(pulled.code, 0, pulled.stderr);
  assert.is((await dockerFor(env.targetHost).getImage(ref).inspect()).Id, context.first[1]!.configDigest);
});

test('basic auth on a real htpasswd registry: missing and wrong logins fail saying so; the password is never shown or on a command line', async (context) => {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const registry = new OwnRegistry({ users: { kfb: password } });
  await registry.start();
  try {
    const basic = { authorization: `Basic ${Buffer.from(`kfb:${password}`).toString('base64')}` };
    const target = `${registry.address}/${context.ns}`;
    const missing = await install(context, context.bundle, ['--registry', target]);
    assert.is.not(missing.code, 0);
    assert.match(missing.stderr, `${target} needs a login: set KFB_REGISTRY_AUTH=USER:PASSWORD`);
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const refused = await install(context, context.bundle, ['--registry', target, '--retries', '2'], { KFB_REGISTRY_AUTH: `kfb:${wrong}` });
    assert.is.not(refused.code, 0);
    assert.match(refused.stderr, 'the credentials in KFB_REGISTRY_AUTH were refused');
    assert.not.match(output(refused), wrong);
    const catalog = await fetch(`http://${registry.address}/v2/_catalog`, { headers: basic, signal: AbortSignal.timeout(QUICK_MS) });
    assert.equal(((await catalog.json()) as { repositories: string[] }).repositories, [], 'nothing was pushed');

    const { result, curls, leaked } = await watchingCommandLines(password, () => install(context, context.bundle, ['--registry', target], { KFB_REGISTRY_AUTH: `kfb:${password}` }));
    assert.is(result.code, 0, output(result));
    assert.not.match(output(result), password);
    assert.ok(curls > 0, 'the watch saw curl run');
    assert.equal(leaked, [], 'no command line held the password');
    for (const image of context.first) {
      const head = await registry.head(`/v2/${context.ns}/${image.repository}/manifests/${image.ref.slice(image.ref.lastIndexOf(':') + 1)}`, { ...basic, accept: ACCEPT });
      assert.is(head.headers['docker-content-digest'], image.tagDigest, image.ref);
    }
  } finally {
    await registry.stop();
  }
});

test('bearer tokens: scoped for push and for the repository mounted from, fetched again once a token is refused; no login fails naming KFB_REGISTRY_AUTH', async (context) => {
  const { env, ns } = context;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const server = new TokenServer({ registry: env.secondRegistry, scheme: 'bearer', users: { alice: password } });
  await server.start();
  try {
    const target = `${server.address}/${ns}/bearer`;
    const missing = await install(context, context.bundle, ['--registry', target]);
    assert.is.not(missing.code, 0);
    assert.match(missing.stderr, 'needs a login: set KFB_REGISTRY_AUTH=USER:PASSWORD');
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const refused = await install(context, context.bundle, ['--registry', target, '--retries', '2'], { KFB_REGISTRY_AUTH: `alice:${wrong}` });
    assert.is.not(refused.code, 0);
    assert.match(refused.stderr, 'refused the credentials in KFB_REGISTRY_AUTH');
    assert.not.match(output(refused), wrong);
    assert.not.ok(server.requests.some((request) => request.status === 201), 'nothing was stored');

    // A token the registry stops honouring mid-push, as an expired one: revoked as the first manifest arrives, after
    // the installer fetched the token it sends with it.
    let revoked = false;
    const record = server.requests.push.bind(server.requests);
    server.requests.push = (...items) => {
      if (!revoked && items.some((item) => item.line.startsWith('PUT ') && item.line.includes('/manifests/'))) {
        revoked = true;
        server.revokeTokens();
      }
      return record(...items);
    };
    const from = server.requests.length;
    const { result, leaked } = await watchingCommandLines(password, () => install(context, context.bundle, ['--registry', target], { KFB_REGISTRY_AUTH: `alice:${password}` }));
    assert.is(result.code, 0, output(result));
    assert.not.match(output(result), password);
    assert.equal(leaked, []);
    assert.ok(revoked);
    const recent = server.requests.slice(from);
    assert.ok(recent.some((request) => request.status === 401 && request.authorization?.startsWith('Bearer ') === true), 'a refused token was replaced');
    assert.ok(server.tokenRequests.some((request) => request.who === 'alice' && request.scopes.includes(`repository:${ns}/bearer/gcr.io/${ns}/worker:pull,push`)));
    assert.ok(server.tokenRequests.some((request) => request.who === 'alice' && request.scopes.length === 2 && request.scopes[1]!.endsWith(':pull')), 'mounts ask to pull from the source');
    assert.is(uploads(recent, 0).mounted, blobPlan(context.first).mounts, 'every mount granted');
    assert.match(result.stdout, `${context.first.length} of ${context.first.length} read back`);
    assert.equal(await readdir(join(context.work.path, 'tmp')), [], 'the tokens went with the temporary directory, after failed runs too');
  } finally {
    await server.stop();
  }
  await assertServed(env.secondRegistry, context.first.map((image) => ({ ...image, repository: `${ns}/bearer/${image.repository}` })), context.bundle);
});

test('--registry-ca: HTTPS with a certificate of its own; without its CA, nothing is sent', async (context) => {
  const registry = new OwnRegistry({ tls: true });
  await registry.start();
  const other = new OwnRegistry({ tls: true });
  await other.start();
  try {
    const ca = join(context.work.path, 'registry-ca.pem');
    await writeFile(ca, registry.certificate());
    const otherCa = join(context.work.path, 'other-ca.pem');
    await writeFile(otherCa, other.certificate());
    const target = `${registry.address}/${context.ns}`;
    const untrusted = await install(context, context.bundle, ['--registry', `${target}/untrusted`, '--registry-ca', otherCa, '--retries', '1']);
    assert.is.not(untrusted.code, 0);
    assert.match(untrusted.stderr, "the registry's certificate is not trusted here: give the CA that signed it with --registry-ca FILE");
    const plain = await install(context, context.bundle, ['--registry', `${target}/plain`, '--retries', '1']);
    assert.is.not(plain.code, 0, 'a loopback registry without a CA is spoken to in plain HTTP, which a TLS port refuses');
    for (const prefix of ['untrusted', 'plain']) {
      const head = await registry.head(`/v2/${context.ns}/${prefix}/${context.first[0]!.repository}/manifests/1`, { accept: ACCEPT });
      assert.is(head.status, 404, `nothing pushed under ${prefix}`);
    }

    const result = await install(context, context.bundle, ['--registry', `${target}/tls`, '--registry-ca', ca]);
    assert.is(result.code, 0, output(result));
    assert.match(result.stdout, 'over the registry HTTP API (https)');
    for (const image of context.first) {
      const head = await registry.head(`/v2/${context.ns}/tls/${image.repository}/manifests/${image.ref.slice(image.ref.lastIndexOf(':') + 1)}`, { accept: ACCEPT });
      assert.is(head.headers['docker-content-digest'], image.tagDigest, image.ref);
    }
  } finally {
    await registry.stop();
    await other.stop();
  }
});

test('a tampered bundle is refused before any request reaches the registry', async (context) => {
  const copy = join(context.work.path, 'tampered');
  const copied = await runCommand('cp', ['-r', context.bundle, copy], { timeoutMs: QUICK_MS });
  assert.is(copied.code, 0, copied.stderr);
  await flipByte(join(copy, 'images/images-1.tar'), 4000);
  const front = new FaultProxy(context.env.secondRegistry, []);
  await front.start();
  try {
    const result = await install(context, copy, ['--registry', `${front.address}/${context.ns}/tampered`]);
    assert.is.not(result.code, 0);
    assert.match(result.stderr, 'checksum verification failed');
    assert.equal(front.requests, [], 'no request reached the registry');
  } finally {
    await front.stop();
  }
});

test('a bundle of the engine source has no push plan: without an engine it stops, saying what to do', async (context) => {
  const out = join(context.work.path, 'engine');
  const rendered = join(context.work.path, 'engine.yaml');
  await writeFile(rendered, deploymentYaml('kubeflow', 'app', `      - {name: main, image: "docker.io/${context.ns}/solo:1"}\n`));
  const built = await runKfbundle(
    ['build', '--no-seed-registry', '--manifests', rendered, '--out', out, '--source', 'engine', '--docker-host', context.env.builderHost, '--no-progress', '--mirror', `docker.io=${context.env.registry}/${context.ns}/docker.io`],
    { timeoutMs: 300_000 },
  );
  assert.is(built.code, 0, built.stderr);
  assert.is(await access(join(out, 'images/push.txt')).then(() => true, () => false), false, 'no images/push.txt');
  const auto = await install(context, out, ['--registry', `${context.env.secondRegistry}/${context.ns}/engine`]);
  assert.is.not(auto.code, 0);
  assert.match(auto.stderr, 'neither Docker nor containerd answers on this node, and this bundle has no images/push.txt');
  assert.match(auto.stderr, '--source engine');
  const asked = await install(context, out, ['--registry', `${context.env.secondRegistry}/${context.ns}/engine`, '--push-with', 'http']);
  assert.is.not(asked.code, 0);
  assert.match(asked.stderr, '--push-with http: this bundle has no images/push.txt');
  const docker = dockerFor(context.env.builderHost);
  // Docker names Docker Hub's images without docker.io/.
  for (const image of await docker.listImages()) for (const tag of image.RepoTags ?? []) if (tag.includes(context.ns)) await docker.getImage(tag).remove({ force: true }).catch(() => {});
});

test.run();
