// The pure parts of reporting the environment's faults: what the engine's answers mean (classified once, in the
// adapter), how system errors become coded errors that name the file, and the decisions that follow from them
// (retry, next mirror, stop). The faults themselves are fed for real in test/integration/environment-faults.test.ts;
// here real sockets and files give the errors wherever the machine can make them.

import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pullImages, type ImageToPull, type PullEvent } from '../../src/app/pull-images.js';
import { KfbundleError, type FaultKind } from '../../src/core/errors.js';
import { parseImageRef } from '../../src/core/image-ref.js';
import { parseMirror } from '../../src/core/mirrors.js';
import { classifyPullFailure, engineAnswerOf, engineConnectionFault } from '../../src/io/engine-errors.js';
import { EngineClosedError, engineGetStream } from '../../src/io/engine-raw-get.js';
import { apiVersionAtLeast } from '../../src/io/docker-image-store.js';
import { SplitFileWriter } from '../../src/io/split-file-writer.js';
import { fileFault } from '../../src/io/system-errors.js';
import { TarNormalizer } from '../../src/io/tar-normalizer.js';
import { FakeImageStore } from '../helpers/fake-image-store.js';
import { REPO_ROOT } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

const test = suite('environment errors');

const ENGINE = { engine: 'unix:///run/test.sock', doing: 'while pulling gcr.io/x/y:1' };

test("the engine's answers to a pull, as dockerd 20.10 gives them, are classified by status first, then by text", () => {
  const cases: [number | undefined, string, FaultKind][] = [
    [404, 'manifest for 127.0.0.1:5000/probe/nothing:1 not found: manifest unknown: manifest unknown', 'not-found'],
    [400, 'invalid reference format: repository name must be lowercase', 'invalid'],
    [403, 'anything at all', 'denied'],
    [401, 'anything at all', 'denied'],
    [500, 'denied', 'denied'],
    [500, 'unauthorized', 'denied'],
    [500, "pull access denied for x, repository does not exist or may require 'docker login'", 'denied'],
    [500, 'toomanyrequests: rate limit exceeded', 'transient'],
    [500, 'received unexpected HTTP status: 503 Service Unavailable', 'transient'],
    [500, 'Get "https://nonexistent.invalid/v2/": dial tcp: lookup nonexistent.invalid on 10.0.0.53:53: no such host', 'unreachable'],
    [500, 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', 'transient'],
    [500, 'Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', 'unreachable'],
    [500, 'Get "https://r.example/v2/": x509: certificate signed by unknown authority', 'unreachable'],
    // In-band errorDetail messages after a 200: no status at all.
    [undefined, 'error pulling image configuration: download failed after attempts=6: received unexpected HTTP status: 503 Service Unavailable', 'transient'],
    [undefined, 'error pulling image configuration: download failed after attempts=1: unknown blob', 'not-found'],
    [undefined, 'error pulling image configuration: download failed after attempts=6: denied', 'denied'],
    [undefined, 'unreadable progress line from the engine: <html>', 'transient'],
  ];
  for (const [status, message, kind] of cases) {
    const result = classifyPullFailure({ status, message });
    assert.is(result.kind, kind, `${status}: ${message}`);
    assert.ok(result.hint.length > 10);
  }
});

test("the engine's own message is taken out of dockerode's wording", () => {
  const dockerode = Object.assign(new Error('(HTTP code 500) server error - toomanyrequests: rate limit exceeded '), { statusCode: 500, json: null });
  assert.equal(engineAnswerOf(dockerode), { status: 500, message: 'toomanyrequests: rate limit exceeded' });
  const withJson = Object.assign(new Error('(HTTP code 404) no such image - whatever'), { statusCode: 404, json: { message: 'No such image: x:1' } });
  assert.equal(engineAnswerOf(withJson), { status: 404, message: 'No such image: x:1' });
  assert.is(engineAnswerOf(new Error('no status')), undefined);
});

async function connectionError(connectTo: { path: string } | { port: number }): Promise<unknown> {
  const { createConnection } = await import('node:net');
  return new Promise((resolve) => {
    const socket = 'path' in connectTo ? createConnection(connectTo.path) : createConnection(connectTo.port, '127.0.0.1');
    socket.on('error', resolve);
    socket.on('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

test('connections to the engine that fail or break are the engine\'s fault, by code', async () => {
  const dir = await makeTempDir();
  try {
    const missing = await connectionError({ path: join(dir.path, 'no-such.sock') });
    const gone = engineConnectionFault(missing, ENGINE);
    assert.is(gone?.code, 'DOCKER_UNREACHABLE');
    assert.match(gone!.message, 'cannot reach the Docker engine at unix:///run/test.sock while pulling gcr.io/x/y:1: connect ENOENT');
    assert.is(gone!.cause, missing);

    // A port that was just free again: nothing listens, the connection is refused.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.is(engineConnectionFault(await connectionError({ port }), ENGINE)?.code, 'DOCKER_UNREACHABLE');

    const denied = engineConnectionFault(Object.assign(new Error('connect EACCES /run/test.sock'), { code: 'EACCES' }), ENGINE);
    assert.is(denied?.code, 'DOCKER_PERMISSION_DENIED');
    assert.match(denied!.hint!, 'docker group');
    const lost = engineConnectionFault(new EngineClosedError('the engine closed the connection before it answered'), ENGINE);
    assert.is(lost?.code, 'DOCKER_CONNECTION_LOST');
    assert.match(lost!.message, 'the Docker engine at unix:///run/test.sock closed the connection while pulling gcr.io/x/y:1');
    assert.is(engineConnectionFault(Object.assign(new Error('(HTTP code 500) server error - x'), { statusCode: 500 }), ENGINE), undefined, 'an answer is not a connection fault');
    assert.is(engineConnectionFault(new TypeError('x is undefined'), ENGINE), undefined, 'a bug stays a bug');
  } finally {
    await dir.remove();
  }
});

test('an engine that hangs up before its answer is complete rejects the save, where it used to hang', async () => {
  const server = createServer((socket) => socket.once('data', () => socket.end('HTTP/1.0 200 OK\r\nContent-Ty')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const error = await engineGetStream({ host: '127.0.0.1', port }, '/images/get?names=x').then(
      () => assert.unreachable('resolved without an answer'),
      (e: unknown) => e,
    );
    assert.instance(error, EngineClosedError);
    assert.is((error as EngineClosedError).code, 'ECONNRESET');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('engine API versions compare by number, not by text', () => {
  assert.ok(apiVersionAtLeast('1.41', '1.30'));
  assert.ok(apiVersionAtLeast('1.30', '1.30'));
  assert.ok(apiVersionAtLeast('2.0', '1.30'));
  assert.not.ok(apiVersionAtLeast('1.24', '1.30'));
  assert.not.ok(apiVersionAtLeast('1.4', '1.30'), '1.4 is older than 1.30');
  assert.not.ok(apiVersionAtLeast('banana', '1.30'));
});

test('file faults name the file and carry the system error; other errors pass unchanged', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'absent.key');
    const missing = fileFault(await readFile(path).catch((e: unknown) => e), { what: 'key', path, action: 'read', missingHint: 'make one' }) as KfbundleError;
    assert.is(missing.code, 'INPUT_NOT_FOUND');
    assert.is(missing.message, `key not found: "${path}"`);
    assert.is(missing.hint, 'make one');
    assert.is((missing.cause as NodeJS.ErrnoException).code, 'ENOENT');

    const isDir = fileFault(await readFile(dir.path).catch((e: unknown) => e), { what: 'bundle spec', path: dir.path, action: 'read' }) as KfbundleError;
    assert.is(isDir.code, 'INPUT_NOT_FOUND');
    assert.match(isDir.message, 'is a directory');

    await writeFile(join(dir.path, 'file'), 'x');
    const through = join(dir.path, 'file', 'key');
    const notDir = fileFault(await writeFile(through, 'x').catch((e: unknown) => e), { what: 'key', path: through, action: 'write' }) as KfbundleError;
    assert.is(notDir.code, 'INPUT_NOT_FOUND');
    assert.match(notDir.message, `cannot write key "${through}"`);

    const codes: [string, string][] = [
      ['EACCES', 'PERMISSION_DENIED'],
      ['EPERM', 'PERMISSION_DENIED'],
      ['EROFS', 'READ_ONLY_FILE_SYSTEM'],
      ['ENOSPC', 'DISK_FULL'],
      ['EDQUOT', 'DISK_FULL'],
      ['EMFILE', 'TOO_MANY_OPEN_FILES'],
      ['EIO', 'IO_ERROR'],
      ['EXDEV', 'IO_ERROR'],
    ];
    for (const [errno, code] of codes) {
      const fault = fileFault(Object.assign(new Error(`${errno}: x`), { code: errno }), { what: 'the bundle file', path: '/b/f', action: 'write' }) as KfbundleError;
      assert.is(fault.code, code, errno);
      assert.match(fault.message, '"/b/f"');
      assert.ok((fault.hint ?? '').length > 10, errno);
    }
    const bug = new TypeError('cannot read properties of undefined');
    assert.is(fileFault(bug, { what: 'x', path: '/x', action: 'read' }), bug);
    const coded = new KfbundleError('DOCKER_CONNECTION_LOST', 'gone');
    assert.is(fileFault(coded, { what: 'x', path: '/x', action: 'write' }), coded, "kfbundle's own error is passed on");
  } finally {
    await dir.remove();
  }
});

test('too many open files, for real: a process under a low limit gets EMFILE, and it is named', async () => {
  // The child opens files until the system refuses, then prints what fileFault makes of the refusal.
  const script = `
    import { open } from 'node:fs/promises';
    import { fileFault } from './src/io/system-errors.ts';
    const handles = [];
    try { for (;;) handles.push(await open(process.argv[1], 'r')); }
    catch (error) { const f = fileFault(error, { what: 'the bundle file', path: process.argv[1], action: 'read' }); console.log(JSON.stringify({ code: f.code, message: f.message, errno: error.code })); }`;
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('prlimit', ['--nofile=64:64', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, join(REPO_ROOT, 'package.json')], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  assert.is(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout.trim().split('\n').pop()!) as { code: string; message: string; errno: string };
  assert.is(printed.errno, 'EMFILE');
  assert.is(printed.code, 'TOO_MANY_OPEN_FILES');
  assert.match(printed.message, `"${join(REPO_ROOT, 'package.json')}"`);
});

test('an archive cut between two entries is not taken for a shorter whole one', async () => {
  const dir = await makeTempDir();
  try {
    await mkdir(join(dir.path, 'tree'));
    await writeFile(join(dir.path, 'tree', 'a'), Buffer.alloc(600, 1));
    const { runCommand } = await import('../helpers/cli.js');
    const made = await runCommand('tar', ['-C', join(dir.path, 'tree'), '-cf', join(dir.path, 't.tar'), 'a'], { timeoutMs: 30_000 });
    assert.is(made.code, 0, made.stderr);
    // Header and data of the one entry (512 + 1024 bytes), without the end-of-archive blocks.
    const cut = (await readFile(join(dir.path, 't.tar'))).subarray(0, 1536);
    let told: { detail: string; bytes: number } | undefined;
    const normalizer = new TarNormalizer({
      incomplete: (detail, bytes) => {
        told = { detail, bytes };
        return new KfbundleError('DOCKER_CONNECTION_LOST', 'cut');
      },
    });
    const error = await pipeline(Readable.from([cut]), normalizer, async function* (source) {
      for await (const chunk of source) yield chunk;
    }).catch((e: unknown) => e);
    assert.is((error as KfbundleError).code, 'DOCKER_CONNECTION_LOST');
    assert.equal(told, { detail: 'ended before the end-of-archive blocks', bytes: 1536 });
  } finally {
    await dir.remove();
  }
});

test('more parts than four digits can name is a coded error, before part 10000 is written', async () => {
  const dir = await makeTempDir();
  try {
    const writer = new SplitFileWriter((index) => join(dir.path, `p.${String(index).padStart(4, '0')}`), 1);
    const error = await pipeline(Readable.from([Buffer.alloc(10_001, 7)]), writer).catch((e: unknown) => e);
    assert.is((error as KfbundleError).code, 'SPLIT_TOO_MANY_PARTS');
    assert.match((error as Error).message, '10,000 parts of 1 bytes');
    assert.match((error as Error).message, '10000 bytes are written');
    assert.is(writer.parts.length, 10_000);
    await readFile(join(dir.path, 'p.9999'));
    assert.is(await readFile(join(dir.path, 'p.10000')).catch((e: NodeJS.ErrnoException) => e.code), 'ENOENT');
  } finally {
    await dir.remove();
  }
});

/** The fake store, with pulls that fail the way the adapter reports a registry's or the engine's answer. */
class FaultyStore extends FakeImageStore {
  readonly asked: string[] = [];
  private readonly faults: Map<string, KfbundleError[]>;

  constructor(faults: Record<string, KfbundleError[]>) {
    super();
    this.faults = new Map(Object.entries(faults));
  }

  override async pull(ref: string): Promise<void> {
    this.asked.push(ref);
    const next = this.faults.get(ref)?.shift();
    if (next !== undefined) throw next;
    return super.pull(ref);
  }
}

function image(ref: string): ImageToPull {
  return { ref, parsed: parseImageRef(ref), tier: 'install', locations: [{ object: 'Pod/p', path: 'spec.containers[0].image' }] };
}

async function pull(store: FaultyStore, refs: string[], mirrors: string[] = []) {
  const events: PullEvent[] = [];
  const result = await pullImages(refs.map(image), { mirrors: mirrors.flatMap(parseMirror), concurrency: 1, attempts: 4 }, {
    store,
    credentials: () => undefined,
    sleep: async () => {},
    random: () => 0,
    report: (event) => events.push(event),
  }).catch((e: unknown) => e);
  return { result, retries: events.filter((event) => event.type === 'pull-retry').length };
}

const fault = (kind: FaultKind) => new KfbundleError('PULL_FAILED', `pull failed: ${kind}`, { fault: kind });

test('pulls: a transient fault is retried, a refusal is not, a blocked mirror gives way, a lost engine stops all', async () => {
  const transient = new FaultyStore({ 'gcr.io/a/b:1': [fault('transient'), fault('transient')] });
  const retried = await pull(transient, ['gcr.io/a/b:1']);
  assert.ok(Array.isArray(retried.result), String(retried.result));
  assert.is(retried.retries, 2);

  const denied = new FaultyStore({ 'gcr.io/a/b:1': [fault('denied'), fault('denied')] });
  const refused = await pull(denied, ['gcr.io/a/b:1']);
  assert.is((refused.result as KfbundleError).code, 'PULL_FAILED');
  assert.is(refused.retries, 0);
  assert.equal(denied.asked, ['gcr.io/a/b:1']);

  // The first mirror's name does not resolve: the second mirror is asked, once each.
  const blocked = new FaultyStore({ 'm1.example/gcr.io/a/b:1': [fault('unreachable')] });
  const fallback = await pull(blocked, ['gcr.io/a/b:1'], ['gcr.io=m1.example/gcr.io,m2.example/gcr.io']);
  assert.ok(Array.isArray(fallback.result), String(fallback.result));
  assert.equal(blocked.asked, ['m1.example/gcr.io/a/b:1', 'm2.example/gcr.io/a/b:1']);
  assert.is(fallback.retries, 0);

  const engineGone = new KfbundleError('DOCKER_CONNECTION_LOST', 'the Docker engine at unix:///x closed the connection while pulling m1.example/gcr.io/a/b:1');
  const lost = new FaultyStore({ 'm1.example/gcr.io/a/b:1': [engineGone] });
  const stopped = await pull(lost, ['gcr.io/a/b:1', 'gcr.io/c/d:1'], ['gcr.io=m1.example/gcr.io']);
  assert.is(stopped.result, engineGone, "the engine's error itself, not a list of images");
  assert.ok(!lost.asked.includes('gcr.io/a/b:1'), `no other source is tried for it: ${lost.asked.join(', ')}`);
  assert.is(stopped.retries, 0);
});

test.run();
