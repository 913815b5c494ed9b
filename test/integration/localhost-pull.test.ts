// The localhost rule the seeded in-cluster registry relies on: a container runtime pulls `127.0.0.1:PORT/…` from a
// plain-HTTP registry with no registry configuration at all, so no node needs configuring to pull through its own
// localhost NodePort. Proven on the real runtimes, kubelet's way in for containerd (the CRI image service over its
// gRPC socket) and the Docker engine's pull.
//
// Ran, when written: containerd 1.6.20~ds1 (Debian 12) with its CRI plugin on and the plugin's registry configuration
// as containerd logs it at start: `Registry:{ConfigPath: Mirrors:map[] Configs:map[] Auths:map[] Headers:map[]}`
// (the defaults: no config_path, no mirrors, no per-host TLS); Docker 20.10.24 with an empty daemon.json, whose
// `docker info` lists Insecure Registries `127.0.0.0/8` (the engine adds it always) and no mirrors.
//
// The contrast that makes the rule observable: the same pull under a name that is not loopback goes over TLS and
// fails. The tests bind 127.0.0.1 only, so no registry can answer on another address; instead the contrast's
// containerd is given an HTTP(S) proxy of the test's own on 127.0.0.1 (Go's clients never proxy loopback addresses,
// and proxy every other host). The proxy records how containerd asked: `CONNECT host:port` is a TLS connection, an
// absolute `GET http://…` is plain HTTP. Every connection is sent to the registry on 127.0.0.1 whatever host was named,
// so a plain-HTTP pull would succeed there and fail the test; a TLS one meets the plain-HTTP registry and fails as
// it would on a node. There is no such contrast for Docker: its engine here is shared, and a proxy needs the engine
// started with one; what Docker treats as insecure is its Insecure Registries list, which the test checks.

import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILD_MS, QUICK_MS, runCommand } from '../helpers/cli.js';
import type { CriClient } from '../helpers/cri-client.js';
import { startCriContainerd } from '../helpers/cri-containerd.js';
import { fetchRegistryImage } from '../helpers/registry-blobs.js';
import { buildSyntheticImage, dockerFor, pushImage } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';

/** containerd 1.6's CRI plugin with no registry configuration, as it logs itself (Go's %+v of its Registry field). */
const NO_REGISTRY_CONFIG = 'Registry:{ConfigPath: Mirrors:map[] Configs:map[] Auths:map[] Headers:map[]}';
/** A name that is not loopback and never resolves (RFC 2606); only the proxy ever sees it. */
const NOT_LOOPBACK_NAME = 'kfb-not-loopback.invalid';
/** An address that is not loopback (TEST-NET-1, RFC 5737); only the proxy ever sees it. */
const NOT_LOOPBACK_IP = '192.0.2.1';

interface Pushed {
  /** `127.0.0.1:PORT/<repository>:<tag>` */
  ref: string;
  /** `127.0.0.1:PORT/<repository>` */
  repository: string;
  /** `<repository>:<tag>` without the registry, to put behind another host. */
  path: string;
  manifestDigest: string;
  /** The config digest: the image ID every runtime must report. */
  configDigest: string;
}

interface Context {
  env: TestEnv;
  image: Pushed;
}

const test = suite<Context>('the localhost rule: runtimes pull 127.0.0.1:PORT over plain HTTP with no registry configuration');

/** Builds a small image on the builder engine, pushes it, and reads back from the registry what it serves. */
async function pushProbeImage(env: TestEnv): Promise<Pushed> {
  const builder = dockerFor(env.builderHost);
  const path = `kfb-localhost-rule-${randomBytes(4).toString('hex')}/probe:1`;
  const ref = `${env.registry}/${path}`;
  await buildSyntheticImage(builder, ref);
  const pushedDigest = await pushImage(builder, ref);
  await builder.getImage(ref).remove({ force: true });
  const served = await fetchRegistryImage(ref);
  assert.is(served.manifestDigest, pushedDigest, 'the registry serves the manifest Docker pushed');
  return { ref, repository: ref.slice(0, ref.lastIndexOf(':')), path, manifestDigest: served.manifestDigest, configDigest: served.config.digest };
}

/** What the runtime holds under `ref`: absent before, then the pushed image by ID, tag and manifest digest. */
async function assertCriHolds(client: CriClient, image: Pushed, ref: string): Promise<void> {
  const status = await client.imageStatus(ref);
  assert.ok(status !== null, `ImageStatus knows ${ref}`);
  assert.is(status.id, image.configDigest, 'ImageStatus: the image ID is the pushed config digest');
  assert.ok(status.repoTags.includes(ref), `ImageStatus tags: ${status.repoTags.join(', ')}`);
  const repository = ref.slice(0, ref.lastIndexOf(':'));
  assert.ok(status.repoDigests.includes(`${repository}@${image.manifestDigest}`), `ImageStatus digests: ${status.repoDigests.join(', ')}`);
  const listed = (await client.listImages()).find((entry) => entry.id === image.configDigest);
  assert.ok(listed !== undefined && listed.repoTags.includes(ref), 'ListImages lists the pulled image under its tag');
}

/** How a client asked a proxy to reach a host: `CONNECT host:port` (TLS inside) or `GET http://…` (plain HTTP). */
interface RecordingProxy {
  address: string;
  connects: string[];
  plainRequests: string[];
  close(): Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 that sends every connection, whichever host it names, to `registry`. */
async function startRecordingProxy(registry: string): Promise<RecordingProxy> {
  const [registryHost, registryPort] = registry.split(':') as [string, string];
  const connects: string[] = [];
  const plainRequests: string[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((incoming, outgoing) => {
    plainRequests.push(`${incoming.method} ${incoming.url}`);
    const url = new URL(incoming.url ?? '/', 'http://unused');
    const upstream = httpRequest(
      { host: registryHost, port: Number(registryPort), method: incoming.method, path: `${url.pathname}${url.search}`, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  server.on('connection', track);
  server.on('connect', (incoming, client: Socket, head: Buffer) => {
    connects.push(incoming.url ?? '');
    const upstream = connect(Number(registryPort), registryHost, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    connects,
    plainRequests,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The error PullImage of `ref` fails with; a pull that succeeds fails the test. */
async function pullFailure(client: CriClient, ref: string): Promise<string> {
  const outcome = await client.pullImage(ref).then(
    (imageRef) => ({ imageRef, error: undefined }),
    (error: unknown) => ({ imageRef: undefined, error: String(error) }),
  );
  assert.ok(outcome.error !== undefined, `PullImage of ${ref} succeeded (${outcome.imageRef}): it went over plain HTTP`);
  return outcome.error;
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.image = await pushProbeImage(context.env);
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.env?.release();
  }),
);

test('containerd CRI: PullImage of 127.0.0.1:PORT/… over plain HTTP, no registry configuration', async ({ image }) => {
  const containerd = await startCriContainerd();
  try {
    const registryConfig = /Registry:\{[^}]*\}/.exec(containerd.criConfig)?.[0];
    console.log(`    containerd ${containerd.version.runtimeVersion} (CRI ${containerd.version.runtimeApiVersion}), ${registryConfig}`);
    assert.is(containerd.version.runtimeName, 'containerd');
    assert.is(registryConfig, NO_REGISTRY_CONFIG, 'the CRI plugin has no registry configuration');
    assert.is(await containerd.client.imageStatus(image.ref), null, 'the image is not there before the pull');

    const imageRef = await containerd.client.pullImage(image.ref);
    assert.is(imageRef, image.configDigest, 'PullImage answers the pushed image ID (its config digest)');
    await assertCriHolds(containerd.client, image, image.ref);
  } finally {
    await containerd.stop();
  }
});

test('containerd CRI: the same pull under a name or an address that is not loopback goes over TLS and fails', async ({ env, image }) => {
  const proxy = await startRecordingProxy(env.registry);
  const proxyUrl = `http://${proxy.address}`;
  const containerd = await startCriContainerd({ env: { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl } });
  try {
    const port = env.registry.split(':')[1]!;
    for (const host of [NOT_LOOPBACK_NAME, NOT_LOOPBACK_IP]) {
      const ref = `${host}:${port}/${image.path}`;
      const failure = await pullFailure(containerd.client, ref);
      assert.match(failure, `https://${host}:${port}/v2/`, `the pull of ${ref} went to https://: ${failure}`);
      assert.match(failure, 'server gave HTTP response to HTTPS client', `the TLS client met the plain-HTTP registry: ${failure}`);
      assert.ok(proxy.connects.includes(`${host}:${port}`), `containerd opened a TLS tunnel to ${host}:${port} (${proxy.connects.join(', ')})`);
    }
    assert.equal(proxy.plainRequests, [], 'no plain-HTTP request to a host that is not loopback');

    // The control, in the same daemon with the same proxy: loopback still goes straight there, over plain HTTP.
    const seen = proxy.connects.length;
    assert.is(await containerd.client.pullImage(image.ref), image.configDigest);
    await assertCriHolds(containerd.client, image, image.ref);
    assert.is(proxy.connects.length, seen, 'the loopback pull did not go through the proxy');
    assert.equal(proxy.plainRequests, []);
  } finally {
    await containerd.stop();
    await proxy.close();
  }
});

test('Docker engine: pulls 127.0.0.1:PORT/… over plain HTTP with no insecure-registries or mirrors configured', async ({ env, image }) => {
  const target = dockerFor(env.targetHost);
  const info = (await target.info()) as {
    ServerVersion: string;
    RegistryConfig: { InsecureRegistryCIDRs: string[]; Mirrors: string[]; IndexConfigs: Record<string, unknown> };
  };
  console.log(`    Docker ${info.ServerVersion}, Insecure Registries ${info.RegistryConfig.InsecureRegistryCIDRs.join(', ')}`);
  assert.equal(info.RegistryConfig.InsecureRegistryCIDRs, ['127.0.0.0/8'], 'only the default insecure range: nothing configured');
  assert.equal(info.RegistryConfig.Mirrors, [], 'no registry mirrors');
  assert.equal(Object.keys(info.RegistryConfig.IndexConfigs), ['docker.io'], `no per-registry settings (${env.registry} has none)`);
  assert.is((await runCommand('docker', ['--host', env.targetHost, 'image', 'inspect', image.ref], { timeoutMs: QUICK_MS })).code, 1, 'not there before');

  try {
    const pulled = await runCommand('docker', ['--host', env.targetHost, 'pull', image.ref], { timeoutMs: BUILD_MS });
    assert.is(pulled.code, 0, `docker pull ${image.ref}: ${pulled.stderr}`);
    const inspected = await target.getImage(image.ref).inspect();
    assert.is(inspected.Id, image.configDigest, 'the image ID is the pushed config digest');
    assert.ok(inspected.RepoDigests.includes(`${image.repository}@${image.manifestDigest}`), `RepoDigests: ${inspected.RepoDigests.join(', ')}`);
  } finally {
    await runCommand('docker', ['--host', env.targetHost, 'image', 'rm', '--force', image.ref], { timeoutMs: QUICK_MS });
  }
});

test.run();
