// Faults of the machine around kfbundle, fed for real to the built CLI: a malformed Docker config, an engine that
// is absent, forbidden, too old, or drops its connection in the middle of a pull or a save (a proxy of our own in
// front of the builder engine cuts it; the shared engines are never restarted), a split size that needs too many
// parts, read-only and forbidden files, a missing kubectl, release downloads that fail. Each must exit with its
// documented status (docs/exit-codes.md), say its code in --json, name what is at fault, give a hint, and never read
// as a bug of kfbundle.

import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILD_MS, QUICK_MS, runCommand, runKfbundle, type RunResult } from '../helpers/cli.js';
import { KUBEFLOW_FIXTURES } from '../helpers/fixtures.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, REPO_ROOT, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
}

const test = suite<Context>('environment faults');
const RUN = randomBytes(4).toString('hex');
/** Pulled through the proxy by the save tests; it stays in the builder engine between them. */
const SAVED = `gcr.io/envfaults-${RUN}/saved:1`;
/** Never in the builder engine before its test: its pull is the one cut. */
const CUT_PULL = `gcr.io/envfaults-${RUN}/cut-pull:1`;
/** Large enough (about 13 MB) that its archive needs more than 10,000 parts of 1 KiB. */
const LARGE = `gcr.io/envfaults-${RUN}/large:1`;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
/** Builds default to the registries themselves; these faults are the engine's. */
const VIA_ENGINE = ['--source', 'engine'];

interface JsonError {
  code: string;
  message: string;
  hint?: string;
}

/** The run failed the documented way: its status, its code in --json, the named things in the message, a hint. */
function assertFault(result: RunResult, status: number, code: string, named: readonly string[]): JsonError {
  const output = `status ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
  assert.not.match(result.stderr, 'this is a bug', output);
  assert.is(result.code, status, output);
  const error = (JSON.parse(result.stdout) as { error: JsonError }).error;
  assert.is(error.code, code, output);
  for (const part of named) assert.ok(error.message.includes(part), `the message names ${part}: ${error.message}`);
  assert.ok((error.hint ?? '').length > 10, `a hint says what to do: ${output}`);
  assert.match(result.stderr, `kfbundle: error: ${error.message.split('\n')[0]}`);
  assert.match(result.stderr, 'hint: ');
  return error;
}

/** The CLI as an ordinary user (nobody), who may not read root's 0600 files nor use the engine's socket. */
function runAsNobody(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = QUICK_MS): Promise<RunResult> {
  return runCommand('setpriv', [...NOBODY, process.execPath, join(REPO_ROOT, 'bin/kfbundle.js'), ...args], { env, timeoutMs });
}

async function podManifests(dir: string, name: string, refs: readonly string[]): Promise<string> {
  const path = join(dir, `${name}.yaml`);
  const pod = (ref: string, index: number) => `apiVersion: v1\nkind: Pod\nmetadata: {name: p${index}}\nspec: {containers: [{name: c, image: "${ref}"}]}\n`;
  await writeFile(path, refs.map(pod).join('---\n'));
  return path;
}

/** What is left in `dir` of a bundle named `name`: the bundle or its hidden staging directory. */
async function leftovers(dir: string, name: string): Promise<string[]> {
  return (await readdir(dir)).filter((entry) => entry === name || entry.startsWith(`.${name}.`));
}

type ProxyAction =
  /** Answer the request itself with this status and JSON body. */
  | { answer: number; body: unknown }
  /** Forward it, then close the connection after this many bytes of the response's body. */
  | { cutAfter: number };

/**
 * An HTTP server on a unix socket of its own in front of the builder engine. It forwards every request, except
 * those a rule picks, which it answers itself or cuts off part way (closing the connection), the way an engine that
 * stops or restarts does.
 */
class EngineProxy {
  readonly socket: string;
  readonly seen: string[] = [];
  private readonly server: Server;
  private readonly target: string;
  private rule: (method: string, path: string) => ProxyAction | undefined = () => undefined;

  constructor(dir: string, targetHost: string) {
    this.socket = join(dir, `engine-proxy-${randomBytes(3).toString('hex')}.sock`);
    this.target = targetHost.replace(/^unix:\/\//, '');
    this.server = createServer((incoming, response) => this.handle(incoming, response));
  }

  get host(): string {
    return `unix://${this.socket}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.socket, resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Which requests to answer or cut from now on; the rest are forwarded. */
  use(rule: (method: string, path: string) => ProxyAction | undefined): void {
    this.rule = rule;
  }

  private handle(incoming: IncomingMessage, response: ServerResponse): void {
    const method = incoming.method ?? 'GET';
    const path = incoming.url ?? '/';
    this.seen.push(`${method} ${path}`);
    const action = this.rule(method, path);
    if (action !== undefined && 'answer' in action) {
      incoming.resume();
      response.writeHead(action.answer, { 'content-type': 'application/json' }).end(JSON.stringify(action.body));
      return;
    }
    const upstream = request({ socketPath: this.target, method, path, headers: incoming.headers }, (reply) => {
      // The framing is this server's own (chunked for HTTP/1.1, until close for HTTP/1.0), not the engine's.
      const headers = { ...reply.headers };
      for (const name of ['transfer-encoding', 'content-length', 'connection']) delete headers[name];
      response.writeHead(reply.statusCode ?? 502, headers);
      if (action === undefined) {
        reply.pipe(response);
        return;
      }
      let sent = 0;
      reply.on('data', (chunk: Buffer) => {
        if (sent >= action.cutAfter) return;
        const room = action.cutAfter - sent;
        sent += Math.min(room, chunk.length);
        response.write(chunk.subarray(0, room), () => {
          if (sent < action.cutAfter) return;
          reply.destroy();
          response.socket?.end();
        });
      });
    });
    upstream.on('error', (error) => response.destroy(error));
    incoming.pipe(upstream);
  }
}

/**
 * A TCP port on 127.0.0.1 that passes every connection through to the builder engine's socket byte for byte, and
 * resets (RST, as a TCP peer that dies sends) a connection whose first request is a save once `cutAfter` bytes of
 * the answer have passed. Node's HTTP server cannot send a RST, hence the plain sockets.
 */
class ResettingProxy {
  private readonly server: NetServer;
  private readonly open = new Set<Socket>();
  private port = 0;
  saves = 0;

  constructor(targetHost: string, cutAfter: number) {
    const target = targetHost.replace(/^unix:\/\//, '');
    this.server = createNetServer((client) => {
      this.track(client);
      client.once('data', (first: Buffer) => {
        const upstream = this.track(connect(target));
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.write(first);
        client.pipe(upstream);
        if (!/^GET \S*\/images\/get/.test(first.toString('latin1'))) {
          upstream.pipe(client);
          return;
        }
        this.saves++;
        let sent = 0;
        upstream.on('data', (chunk: Buffer) => {
          if (sent >= cutAfter) return;
          const part = chunk.subarray(0, cutAfter - sent);
          sent += part.length;
          client.write(part, () => {
            if (sent < cutAfter) return;
            upstream.destroy();
            // Once the client has read what was sent: a RST that meets unread data may reach it as a plain end.
            setTimeout(() => client.resetAndDestroy(), 200);
          });
        });
      });
    });
  }

  get host(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): Socket {
    this.open.add(socket);
    socket.on('close', () => this.open.delete(socket));
    return socket;
  }
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-envfaults-');
    // Runs as nobody read their inputs from here.
    await chmod(context.work.path, 0o755);
    const docker = dockerFor(context.env.builderHost);
    await pushStandIns(docker, context.env.registry, [SAVED, CUT_PULL], { layers: 2, layerBytes: 512 * 1024 });
    await pushStandIns(docker, context.env.registry, [LARGE], { layers: 3, layerBytes: 4 * 1024 * 1024 });
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    if (context.env !== undefined) {
      const docker = dockerFor(context.env.builderHost);
      // Each image is in the engine under the name it was pulled by and the name the bundle gives it.
      for (const ref of [SAVED, CUT_PULL, LARGE]) {
        for (const name of [`${context.env.registry}/${ref}`, ref]) await docker.getImage(name).remove({ force: true }).catch(() => undefined);
      }
    }
    await context.work?.remove();
    await context.env?.release();
  }),
);

// --- the Docker client config ---

test('a malformed config.json under DOCKER_CONFIG is named before any engine is asked', async ({ work }) => {
  const config = join(work.path, 'docker-config-bad');
  await mkdir(config);
  await writeFile(join(config, 'config.json'), '{"auths": {"gcr.io": {"auth": "eDp5"}\n');
  const manifests = await podManifests(work.path, 'config', ['gcr.io/x/y:1']);
  // Nothing here answers for images (no engine at the default socket, no registry for gcr.io): exit 3, not 4 or 5,
  // shows the config is read, and refused, first.
  const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'config-bundle'), '--json'], {
    env: { DOCKER_CONFIG: config },
    timeoutMs: QUICK_MS,
  });
  assertFault(result, 3, 'DOCKER_CONFIG_INVALID', [join(config, 'config.json'), 'not valid JSON']);
  await writeFile(join(config, 'config.json'), '["auths"]\n');
  const notObject = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'config-bundle'), '--json'], { env: { DOCKER_CONFIG: config }, timeoutMs: QUICK_MS });
  assertFault(notObject, 3, 'DOCKER_CONFIG_INVALID', [join(config, 'config.json'), 'not a JSON object']);
});

test('a config.json the user may not read is named, not silently skipped', async ({ work }) => {
  const config = join(work.path, 'docker-config-private');
  await mkdir(config, { mode: 0o755 });
  await writeFile(join(config, 'config.json'), '{"auths": {}}\n', { mode: 0o600 });
  const manifests = await podManifests(work.path, 'private-config', ['gcr.io/x/y:1']);
  const result = await runAsNobody(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'nobody-bundle'), '--json'], { DOCKER_CONFIG: config, HOME: work.path });
  assertFault(result, 12, 'PERMISSION_DENIED', [join(config, 'config.json'), 'permission denied reading']);
});

// --- the Docker engine ---

test('a socket with no engine behind it: exit 4, naming the socket', async ({ work }) => {
  // A socket file that nobody listens on, as a crashed engine leaves it: connecting is refused.
  const socket = join(work.path, 'dead-engine.sock');
  const made = await runCommand('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socket], { timeoutMs: QUICK_MS });
  assert.is(made.code, 0, made.stderr);
  const manifests = await podManifests(work.path, 'dead', ['gcr.io/x/y:1']);
  const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'dead-bundle'), ...VIA_ENGINE, '--docker-host', `unix://${socket}`, '--json'], { timeoutMs: QUICK_MS });
  assertFault(result, 4, 'DOCKER_UNREACHABLE', [`cannot reach the Docker engine at unix://${socket}`, 'ECONNREFUSED']);
  assert.equal(await leftovers(work.path, 'dead-bundle'), []);
});

test("an engine socket the user may not open: exit 4, naming the socket and the docker group", async ({ env, work }) => {
  const manifests = await podManifests(work.path, 'forbidden', ['gcr.io/x/y:1']);
  const result = await runAsNobody(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'forbidden-bundle'), ...VIA_ENGINE, '--docker-host', env.builderHost, '--json'], { HOME: work.path });
  const error = assertFault(result, 4, 'DOCKER_PERMISSION_DENIED', [`permission denied connecting to the Docker engine at ${env.builderHost}`]);
  assert.match(error.hint!, 'docker group');
});

test('an unsupported --docker-host is a usage error, not a crash', async ({ work }) => {
  const manifests = await podManifests(work.path, 'ssh', ['gcr.io/x/y:1']);
  const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'ssh-bundle'), ...VIA_ENGINE, '--docker-host', 'ssh://builder.example', '--json'], { timeoutMs: QUICK_MS });
  assertFault(result, 2, 'USAGE', ['ssh://builder.example']);
});

test('an engine whose API is too old: exit 4, naming the engine and its version', async ({ env, work }) => {
  const proxy = new EngineProxy(work.path, env.builderHost);
  await proxy.start();
  try {
    proxy.use((method, path) => (method === 'GET' && /^(\/v[\d.]+)?\/version$/.test(path) ? { answer: 200, body: { ApiVersion: '1.24', Version: '1.12.6' } } : undefined));
    const manifests = await podManifests(work.path, 'old', ['gcr.io/x/y:1']);
    const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'old-bundle'), ...VIA_ENGINE, '--docker-host', proxy.host, '--json'], { timeoutMs: QUICK_MS });
    assertFault(result, 4, 'DOCKER_API_TOO_OLD', [proxy.host, 'API 1.24', '1.30']);
    assert.equal(await leftovers(work.path, 'old-bundle'), []);
  } finally {
    await proxy.stop();
  }
});

test('the engine drops the connection in the middle of a pull: exit 4, naming the engine and the image', async ({ env, work }) => {
  const proxy = new EngineProxy(work.path, env.builderHost);
  await proxy.start();
  try {
    proxy.use((method, path) => (method === 'POST' && path.includes('/images/create') ? { cutAfter: 1 } : undefined));
    const manifests = await podManifests(work.path, 'cut-pull', [CUT_PULL]);
    const result = await runKfbundle([
      'build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'cut-pull-bundle'), ...VIA_ENGINE, '--docker-host', proxy.host, '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress', '--json',
    ]);
    assertFault(result, 4, 'DOCKER_CONNECTION_LOST', [`the Docker engine at ${proxy.host} closed the connection while pulling ${env.registry}/${CUT_PULL}`]);
    assert.not.match(result.stderr, 'retry', 'an engine that went away is not a registry to try again');
    assert.ok(proxy.seen.filter((line) => line.includes('/images/create')).length === 1, `one pull was asked for: ${proxy.seen.join(', ')}`);
    assert.equal(await leftovers(work.path, 'cut-pull-bundle'), []);
  } finally {
    await proxy.stop();
  }
});

test('the engine closes the connection in the middle of a save: exit 4, naming the engine and the images, no bundle left', async ({ env, work }) => {
  const proxy = new EngineProxy(work.path, env.builderHost);
  await proxy.start();
  try {
    proxy.use((method, path) => (method === 'GET' && path.includes('/images/get') ? { cutAfter: 100_000 } : undefined));
    const manifests = await podManifests(work.path, 'cut-save', [SAVED]);
    const result = await runKfbundle([
      'build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'cut-save-bundle'), ...VIA_ENGINE, '--docker-host', proxy.host, '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress', '--json',
    ]);
    const error = assertFault(result, 4, 'DOCKER_CONNECTION_LOST', [`the Docker engine at ${proxy.host} broke off the save of 1 image (${SAVED}) after 100000 bytes`]);
    assert.match(error.hint!, 'restarted');
    assert.ok(proxy.seen.some((line) => line.includes('/images/get')), 'the save was asked for');
    assert.equal(await leftovers(work.path, 'cut-save-bundle'), []);
  } finally {
    await proxy.stop();
  }
});

test('a TCP engine resets the connection in the middle of a save: exit 4, naming the engine and the images, no bundle left', async ({ env, work }) => {
  const proxy = new ResettingProxy(env.builderHost, 100_000);
  await proxy.start();
  try {
    const manifests = await podManifests(work.path, 'reset-save', [SAVED]);
    const result = await runKfbundle([
      'build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'reset-save-bundle'), ...VIA_ENGINE, '--docker-host', proxy.host, '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress', '--json',
    ]);
    const error = assertFault(result, 4, 'DOCKER_CONNECTION_LOST', [`the Docker engine at ${proxy.host}`, `the save of 1 image (${SAVED})`]);
    // Usually the RST itself; if it overtakes data still unread, the kernel reports an end, and the archive is short.
    assert.match(error.message, /closed the connection while sending the save .*ECONNRESET|broke off the save .* after \d+ bytes/);
    assert.is(proxy.saves, 1, 'one save was asked for, and cut');
    assert.equal(await leftovers(work.path, 'reset-save-bundle'), []);
  } finally {
    await proxy.stop();
  }
});

test("the engine refuses the save with an error: exit 6, with the engine's message", async ({ env, work }) => {
  const proxy = new EngineProxy(work.path, env.builderHost);
  await proxy.start();
  try {
    const message = 'write /var/lib/docker/tmp/docker-export-1: no space left on device';
    proxy.use((method, path) => (method === 'GET' && path.includes('/images/get') ? { answer: 500, body: { message } } : undefined));
    const manifests = await podManifests(work.path, 'save-refused', [SAVED]);
    const result = await runKfbundle([
      'build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'save-refused-bundle'), ...VIA_ENGINE, '--docker-host', proxy.host, '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress', '--json',
    ]);
    assertFault(result, 6, 'SAVE_FAILED', [`the Docker engine at ${proxy.host} failed to save 1 image (${SAVED})`, message]);
    assert.equal(await leftovers(work.path, 'save-refused-bundle'), []);
  } finally {
    await proxy.stop();
  }
});

// --- writing the bundle ---

test('a split size that would need more than 10,000 parts: exit 2, naming the limit, no bundle left', async ({ env, work }) => {
  const manifests = await podManifests(work.path, 'split', [LARGE]);
  const result = await runKfbundle([
    'build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'split-bundle'), ...VIA_ENGINE, '--docker-host', env.builderHost, '--mirror', `gcr.io=${env.registry}/gcr.io`,
    '--split-size', '1Ki', '--no-progress', '--json',
  ], { timeoutMs: BUILD_MS });
  const error = assertFault(result, 2, 'SPLIT_TOO_MANY_PARTS', ['10,000 parts of 1024 bytes', '--split-size']);
  assert.match(error.hint!, '--split-size');
  assert.equal(await leftovers(work.path, 'split-bundle'), []);
});

test('an output directory on a read-only file system: exit 12, naming the path', async ({ env, work }) => {
  const mount = join(work.path, 'read-only');
  await mkdir(mount);
  const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mount], { timeoutMs: QUICK_MS });
  assert.is(mounted.code, 0, mounted.stderr);
  try {
    const manifests = await podManifests(work.path, 'read-only', [SAVED]);
    const out = join(mount, 'bundle');
    const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', out, ...VIA_ENGINE, '--docker-host', env.builderHost, '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress', '--json']);
    assertFault(result, 12, 'READ_ONLY_FILE_SYSTEM', [mount, 'read-only']);
    const keys = await runKfbundle(['keygen', '--private', join(mount, 'team.key'), '--public', join(mount, 'team.pub'), '--json'], { timeoutMs: QUICK_MS });
    assertFault(keys, 12, 'READ_ONLY_FILE_SYSTEM', [join(mount, 'team.key')]);
  } finally {
    await runCommand('umount', [mount], { timeoutMs: QUICK_MS });
  }
});

test('a blob cache on a read-only file system: exit 12, naming the cache; no bundle is left', async ({ env, work }) => {
  const mount = join(work.path, 'read-only-cache');
  await mkdir(mount);
  const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mount], { timeoutMs: QUICK_MS });
  assert.is(mounted.code, 0, mounted.stderr);
  try {
    const manifests = await podManifests(work.path, 'read-only-cache', [SAVED]);
    const out = join(work.path, 'cache-bundle');
    const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', out, '--cache', join(mount, 'cache'), '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress', '--json']);
    assertFault(result, 12, 'READ_ONLY_FILE_SYSTEM', [join(mount, 'cache'), 'blob cache']);
    assert.equal(await leftovers(work.path, 'cache-bundle'), []);
  } finally {
    await runCommand('umount', [mount], { timeoutMs: QUICK_MS });
  }
});

test('a blob cache that fills up mid-download: exit 11 naming the cache, and no other source is tried', async ({ env, work }) => {
  const mount = join(work.path, 'small-cache');
  await mkdir(mount);
  // Room for the manifests and the probe, not for LARGE's 12 MB of layers.
  const mounted = await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount], { timeoutMs: QUICK_MS });
  assert.is(mounted.code, 0, mounted.stderr);
  try {
    const manifests = await podManifests(work.path, 'small-cache', [LARGE]);
    const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(work.path, 'small-cache-bundle'), '--cache', mount, '--mirror', `gcr.io=${env.registry}/gcr.io`, '--no-progress', '--json']);
    assertFault(result, 11, 'DISK_FULL', [mount, 'blob cache']);
    // The origin (gcr.io itself) is never asked: the fault is this machine's, not the mirror's.
    assert.not.match(result.stderr, /pull \S+ from gcr\.io|ENOTFOUND|https:\/\/gcr\.io/);
    assert.equal(await leftovers(work.path, 'small-cache-bundle'), []);
  } finally {
    await runCommand('umount', [mount], { timeoutMs: QUICK_MS });
  }
});

test('an output directory the user may not write: exit 12, naming the path', async ({ env, work }) => {
  const parent = join(work.path, 'root-only');
  await mkdir(parent, { mode: 0o755 });
  const manifests = await podManifests(work.path, 'root-only', ['gcr.io/x/y:1']);
  // nobody may not use the engine's socket, but may use the proxy's, which forwards to it: the engine answers the
  // ping, and the refusal to create the bundle's directory is the first fault.
  const proxy = new EngineProxy(work.path, env.builderHost);
  await proxy.start();
  try {
    await chmod(proxy.socket, 0o666);
    const result = await runAsNobody(['build', '--no-seed-registry', '--manifests', manifests, '--out', join(parent, 'bundle'), ...VIA_ENGINE, '--docker-host', proxy.host, '--json'], { HOME: work.path });
    assertFault(result, 12, 'PERMISSION_DENIED', [parent]);
  } finally {
    await proxy.stop();
  }
});

// --- reading inputs ---

test('files the user may not read (manifests, a key, a bundle) are named with exit 12', async ({ work }) => {
  const secret = join(work.path, 'secret-manifests.yaml');
  await writeFile(secret, 'kind: Pod\n', { mode: 0o600 });
  const manifests = await runAsNobody(['images', '--manifests', secret, '--json'], { HOME: work.path });
  assertFault(manifests, 12, 'PERMISSION_DENIED', [secret]);

  const key = join(work.path, 'private.pub');
  await writeFile(key, 'not even a key\n', { mode: 0o600 });
  const bundle = join(work.path, 'unreadable-bundle');
  await mkdir(bundle, { mode: 0o755 });
  const verifyKey = await runAsNobody(['verify', bundle, '--key', key, '--json'], { HOME: work.path });
  assertFault(verifyKey, 12, 'PERMISSION_DENIED', [key]);

  await writeFile(join(bundle, 'SHA256SUMS'), `${'0'.repeat(64)}  bundle.json\n`, { mode: 0o600 });
  const verify = await runAsNobody(['verify', bundle, '--json'], { HOME: work.path });
  assertFault(verify, 12, 'PERMISSION_DENIED', [join(bundle, 'SHA256SUMS')]);
});

test('kustomize and kubectl missing from PATH, not executable, or failing: exit 3, naming the kustomization', async ({ work }) => {
  const kustomization = join(work.path, 'kustomization-dir');
  await mkdir(kustomization);
  await writeFile(join(kustomization, 'kustomization.yaml'), 'resources:\n- missing.yaml\n');
  const emptyPath = join(work.path, 'empty-path');
  await mkdir(emptyPath);
  const missing = await runKfbundle(['images', '--manifests', kustomization, '--json'], { env: { PATH: emptyPath }, timeoutMs: QUICK_MS });
  const error = assertFault(missing, 3, 'KUSTOMIZE_NOT_FOUND', [kustomization, 'neither kustomize nor kubectl']);
  assert.match(error.hint!, 'install kubectl');

  const brokenPath = join(work.path, 'broken-path');
  await mkdir(brokenPath);
  await writeFile(join(brokenPath, 'kustomize'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  const notExecutable = await runKfbundle(['images', '--manifests', kustomization, '--json'], { env: { PATH: brokenPath }, timeoutMs: QUICK_MS });
  assertFault(notExecutable, 3, 'KUSTOMIZE_FAILED', [kustomization, 'cannot run kustomize build', 'EACCES']);

  const failing = await runKfbundle(['images', '--manifests', kustomization, '--json'], { timeoutMs: QUICK_MS });
  assertFault(failing, 3, 'KUSTOMIZE_FAILED', [kustomization, 'missing.yaml']);
});

// --- downloading a release ---

test('release downloads that fail: 404, a connection cut off, a body that is no archive, a cut archive, no server', async ({ work }) => {
  const realArchive = await readFile(join(KUBEFLOW_FIXTURES, 'v1.10.2/manifests-v1.10.2.tar.gz'));
  const routes: Record<string, (response: ServerResponse) => void> = {
    '/cut/v1.10.2.tar.gz': (response) => {
      response.writeHead(200, { 'content-length': String(realArchive.length) });
      response.write(realArchive.subarray(0, 64 * 1024), () => response.socket?.destroy());
    },
    '/html/v1.10.2.tar.gz': (response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>rate limited</body></html>\n'),
    // Without a length the end of the connection is the end of the body: only the archive can tell it is short.
    '/short/v1.10.2.tar.gz': (response) => {
      response.writeHead(200, { connection: 'close' });
      response.end(realArchive.subarray(0, 64 * 1024));
    },
  };
  const server = createServer((incoming, response) => {
    const route = routes[incoming.url ?? ''];
    if (route === undefined) response.writeHead(404).end('not found');
    else route(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const images = (template: string, env: NodeJS.ProcessEnv = {}) =>
    runKfbundle(['images', '--release', 'v1.10.2', '--release-url', template, '--json'], { env, timeoutMs: QUICK_MS });
  try {
    assertFault(await images(`${base}/nowhere/{ref}.tar.gz`), 3, 'RELEASE_DOWNLOAD_FAILED', [`download of ${base}/nowhere/v1.10.2.tar.gz failed: HTTP 404`]);
    assertFault(await images(`${base}/cut/{ref}.tar.gz`), 3, 'RELEASE_DOWNLOAD_FAILED', [`download of ${base}/cut/v1.10.2.tar.gz broke off after`]);
    assertFault(await images(`${base}/html/{ref}.tar.gz`), 3, 'RELEASE_INVALID', [`${base}/html/v1.10.2.tar.gz is not a whole .tar.gz archive`]);
    assertFault(await images(`${base}/short/{ref}.tar.gz`), 3, 'RELEASE_INVALID', [`${base}/short/v1.10.2.tar.gz is not a whole .tar.gz archive`]);
    const tmp = join(work.path, 'no-such-tmp');
    assertFault(await images(`${base}/short/{ref}.tar.gz`, { TMPDIR: tmp }), 3, 'INPUT_NOT_FOUND', [tmp, 'temporary directory']);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  // The port is free again: nothing answers there.
  assertFault(await images(`${base}/nowhere/{ref}.tar.gz`), 3, 'RELEASE_DOWNLOAD_FAILED', [`cannot download ${base}/nowhere/v1.10.2.tar.gz`, 'ECONNREFUSED']);
});

test.run();
