// The registry source against the engine path and the shell pipeline, measured in one run on the same images.
//
//   node --import tsx bench/registry-source.ts [--images 20] [--base-mb 40] [--unique-mb 45] [--runs 5]
//                                             [--target-pairs 5] [--rss-gb 1,4]
//
// It starts the project's services (scripts/test-env.sh) under a temp directory, builds a synthetic image set whose
// layers are real files of this machine (libraries, binaries, text: they compress as real images do), pushes it to
// the local registry under a mirror prefix, then, run by run:
//   build side:  (a) the shell pipeline: `docker pull` each image one at a time, `docker save -o`, `sha256sum`
//                (b) `kfbundle build` from the registry, with a fresh empty --cache each run (then, untimed by the
//                    pair, once more with that cache warm: no downloads, the archive written from the cache)
//                (c) `kfbundle build --source engine`, for reference
//   target side: (a) `sha256sum -c` + `docker load` of the shell's archive  (b) `install.sh --images-only` of (b)'s bundle
// and prints the bundle sizes (registry source against the engine-saved archive of the same images), the medians,
// the medians of the pairs' ratios with their range, where the time goes, and kfbundle's peak resident memory;
// with --rss-gb, one registry build per image-set size, to show that memory does not follow size.
// Each run is a pair (shell, registry build) whose order flips from run to run, the engine build going first or
// last; every timed side starts after `sync` with the images it is to fetch or load absent.

import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs, promisify } from 'node:util';
import Docker from 'dockerode';
import pLimit from 'p-limit';
import { Header } from 'tar';
import { PullStatusSink } from '../src/io/pull-progress-parser.js';
import { RegistryClient } from '../src/io/registry-client.js';

const execFileAsync = promisify(execFile);
const ROOT = new URL('../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '20' },
    'base-mb': { type: 'string', default: '40' },
    'unique-mb': { type: 'string', default: '45' },
    runs: { type: 'string', default: '5' },
    'target-pairs': { type: 'string', default: '5' },
    'rss-gb': { type: 'string', default: '' },
  },
});
const COUNT = Number(values.images);
const BASE_MB = Number(values['base-mb']);
const UNIQUE_MB = Number(values['unique-mb']);
const RUNS = Number(values.runs);
const TARGET_PAIRS = Math.max(RUNS, Number(values['target-pairs']));
const RSS_SIZES_GB = values['rss-gb'] === '' ? [] : values['rss-gb']!.split(',').map(Number);
const MB = 1024 * 1024;

// Limits: a command that hangs is killed and the benchmark fails, instead of waiting for ever.
const COMMAND_MS = 15 * 60_000;
const ENGINE_CALL_MS = 10 * 60_000;
const WHOLE_BENCH_MS = 150 * 60_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function pairRatio(ratios: number[]): string {
  return `${median(ratios).toFixed(2)} (median of ${ratios.length} pairs; range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(command, args, { env: { ...process.env, ...env }, timeout: COMMAND_MS, killSignal: 'SIGKILL', maxBuffer: 64 * MB });
}

interface Timed {
  seconds: number;
  peakRssMb: number;
  stdout: string;
  /** Seconds from the start at which each output line was seen, to split a script's time by what it said. */
  lines: { at: number; text: string }[];
}

/** Runs a command in a process group of its own (killed whole on timeout); wall seconds and peak RSS from /proc. */
async function timed(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Timed> {
  const started = performance.now();
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  let stdout = '';
  const lines: Timed['lines'] = [];
  const note = (chunk: Buffer) => {
    const at = (performance.now() - started) / 1000;
    for (const text of chunk.toString().split('\n')) if (text.trim() !== '') lines.push({ at, text });
  };
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    note(c);
  });
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    note(c);
  });
  let peak = 0;
  const poll = setInterval(async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
  }, 50);
  const killer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, COMMAND_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(poll);
  clearTimeout(killer);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr.slice(-1500)}`);
  return { seconds: (performance.now() - started) / 1000, peakRssMb: peak, stdout, lines };
}

/** Writes back what the side before left dirty, so that its writeback does not land on the side being timed. */
async function settle(): Promise<void> {
  await run('sync', []);
}

async function removeAll(docker: Docker): Promise<void> {
  for (const image of await docker.listImages()) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
}

async function drain(stream: Readable): Promise<void> {
  const sink = new PullStatusSink();
  await pipeline(stream, sink);
  if (sink.error !== undefined) throw new Error(sink.error);
}

// --- Layer content: real files of this machine, as real images hold them -----------------------------------------

/** Already compressed: in a real image these do not shrink either, but they would let one layer dominate the mix. */
const COMPRESSED = /\.(gz|tgz|xz|bz2|zst|lz4|br|zip|jar|whl|7z|deb|png|jpe?g|gif|webp|woff2?|mo)$/;
const LARGEST_FILE = 24 * MB;

/**
 * Regular files under the usual roots of an image (shared libraries, executables, Python and Perl libraries,
 * headers, docs, node_modules), in an order shuffled by a fixed seed, so that every layer is a similar mix of
 * binaries and text and compresses as a real one does, instead of one layer of ELF and another of Markdown.
 */
async function filePool(): Promise<{ path: string; size: number }[]> {
  const roots = ['/usr/lib', '/usr/bin', '/usr/libexec', '/usr/share', '/usr/include', join(ROOT, 'node_modules')];
  const files: { path: string; size: number }[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const path = join(dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined) continue;
      if (info.isDirectory()) await walk(path);
      else if (info.isFile() && info.size > 0 && info.size <= LARGEST_FILE && !COMPRESSED.test(name)) files.push({ path, size: info.size });
    }
  };
  for (const root of roots) await walk(root);
  let x = 0x9e3779b9;
  const random = () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
  for (let i = files.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [files[i], files[j]] = [files[j]!, files[i]!];
  }
  return files;
}

/** Hands out consecutive slices of the pool; past its end it starts over (the layers still differ by path). */
class Slicer {
  private cursor = 0;
  /** Bytes handed out so far: files overshoot each budget, so this is the set's real size. */
  taken = 0;
  private readonly pool: readonly { path: string; size: number }[];

  constructor(pool: readonly { path: string; size: number }[]) {
    this.pool = pool;
  }

  take(bytes: number): string[] {
    const out: string[] = [];
    for (let total = 0; total < bytes; ) {
      const file = this.pool[this.cursor++ % this.pool.length]!;
      out.push(file.path);
      total += file.size;
      this.taken += file.size;
    }
    return out;
  }
}

function tarEntry(name: string, data: Buffer): Buffer[] {
  const header = Buffer.alloc(512);
  new Header({ path: name, mode: 0o644, size: data.length, mtime: new Date(0), uid: 0, gid: 0, type: 'File' }).encode(header);
  const pad = (512 - (data.length % 512)) % 512;
  return pad === 0 ? [header, data] : [header, data, Buffer.alloc(pad)];
}

/**
 * A build context streamed as it is read: the Dockerfile, then each file under `dir/` with a short, safe name (a lone
 * file keeps its own, so /bin/busybox stays /bin/busybox).
 */
async function* buildContext(dockerfile: string, entries: { dir: string; files: readonly string[] }[]): AsyncGenerator<Buffer> {
  yield* tarEntry('Dockerfile', Buffer.from(dockerfile));
  for (const { dir, files } of entries) {
    for (const [index, file] of files.entries()) {
      // A file that vanished since the walk (a package upgraded meanwhile) is left out.
      const data = await readFile(file).catch(() => undefined);
      if (data === undefined) continue;
      const base = file.split('/').pop()!.replace(/[^A-Za-z0-9._-]/g, '_').slice(-40);
      yield* tarEntry(files.length === 1 ? `${dir}/${base}` : `${dir}/${String(index).padStart(6, '0')}-${base}`, data);
    }
  }
  yield Buffer.alloc(1024);
}

async function buildImage(docker: Docker, tag: string, dockerfile: string, entries: { dir: string; files: readonly string[] }[]): Promise<void> {
  const context = Readable.from(buildContext(dockerfile, entries));
  const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, rm: true, abortSignal: AbortSignal.timeout(ENGINE_CALL_MS) } as never);
  await drain(stream as unknown as Readable);
}

// --- Services ----------------------------------------------------------------------------------------------------

const work = await mkdtemp(join(tmpdir(), 'kfb-regbench-'));
const envDir = join(work, 'env');
const watchdog = setTimeout(() => {
  console.error(`benchmark still running after ${WHOLE_BENCH_MS / 60_000} min: stopping`);
  void run('bash', [join(ROOT, 'scripts/test-env.sh'), 'stop', envDir]).finally(() => rm(work, { recursive: true, force: true }).finally(() => process.exit(2)));
}, WHOLE_BENCH_MS);
watchdog.unref();
await run('bash', [join(ROOT, 'scripts/test-env.sh'), 'install']);
await run('bash', [join(ROOT, 'scripts/test-env.sh'), 'start', envDir]);

try {
  const env = Object.fromEntries((await readFile(join(envDir, 'env'), 'utf8')).trim().split('\n').map((l) => l.split('=') as [string, string]));
  const builderHost = env['KFB_BUILDER_HOST']!;
  const targetHost = env['KFB_TARGET_HOST']!;
  const registry = env['KFB_REGISTRY']!;
  const builder = new Docker({ socketPath: builderHost.slice(7) });
  const target = new Docker({ socketPath: targetHost.slice(7) });
  const kfbundle = join(ROOT, 'bin/kfbundle.js');
  const mirror = ['--mirror', `ghcr.io=${registry}/ghcr.io`];
  const [loadavg] = (await readFile('/proc/loadavg', 'utf8')).split(' ');

  const pool = await filePool();
  const slicer = new Slicer(pool);
  console.log(`file pool: ${pool.length} files, ${(pool.reduce((s, f) => s + f.size, 0) / 1e9).toFixed(2)} GB; load average ${loadavg}`);

  /** Two base images shared by half the set each, then one own layer per image; pushed, then removed locally. */
  async function makeImageSet(name: string, count: number, baseMb: number, uniqueMb: number): Promise<{ refs: string[]; manifests: string }> {
    for (const base of [0, 1]) {
      await buildImage(builder, `${name}-base-${base}:1`, 'FROM scratch\nCOPY bin /bin\nCOPY base /usr/base\n', [
        { dir: 'bin', files: ['/bin/busybox'] },
        { dir: 'base', files: slicer.take(baseMb * MB) },
      ]);
    }
    const refs: string[] = [];
    const push = pLimit(2);
    const pushes: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const ref = `ghcr.io/kubeflow/${name}-image-${i}:v1`;
      const mirrored = `${registry}/${ref}`;
      await buildImage(builder, mirrored, `FROM ${name}-base-${i % 2}:1\nCOPY own /usr/own-${i}\n`, [{ dir: 'own', files: slicer.take(uniqueMb * MB) }]);
      // The engine compresses as it pushes (gzip, as registries serve real images); the next build overlaps it.
      pushes.push(push(async () => {
        const stream = await builder.getImage(mirrored).push({ authconfig: { serveraddress: registry }, abortSignal: AbortSignal.timeout(ENGINE_CALL_MS) } as never);
        await drain(stream as unknown as Readable);
      }));
      refs.push(ref);
    }
    await Promise.all(pushes);
    await removeAll(builder);
    const manifests = join(work, `${name}.yaml`);
    await writeFile(manifests, refs.map((ref, i) => `apiVersion: v1\nkind: Pod\nmetadata: {name: p${i}, namespace: default}\nspec: {containers: [{name: c, image: "${ref}"}]}\n`).join('---\n'));
    return { refs, manifests };
  }

  const madeAt = performance.now();
  const takenBefore = slicer.taken;
  console.log(`making ${COUNT} images: 2 bases of ${BASE_MB} MB, ${UNIQUE_MB} MB of their own each (${((2 * BASE_MB + COUNT * UNIQUE_MB) / 1024).toFixed(2)} GB)`);
  const { refs, manifests } = await makeImageSet('regsrc', COUNT, BASE_MB, UNIQUE_MB);
  const setBytes = slicer.taken - takenBefore;
  console.log(`  made and pushed in ${((performance.now() - madeAt) / 1000).toFixed(0)} s: ${(setBytes / 1e9).toFixed(2)} GB of files`);

  interface BuildJson {
    metadata: { images: unknown[]; imageArchives: { path: string; size: number; sha256: string; parts: string[] }[] };
    timingsMs: Record<string, number>;
  }
  const shell: number[] = [];
  const shellSteps: Record<string, number[]> = { pull: [], save: [], hash: [] };
  const registryBuilds: number[] = [];
  const engineBuilds: number[] = [];
  const registrySteps: Record<string, number[]> = {};
  const warmBuilds: number[] = [];
  const warmSteps: Record<string, number[]> = {};
  const engineSteps: Record<string, number[]> = {};
  const rss: number[] = [];
  const sizes = { registry: 0, engine: 0, shell: 0 };
  const buildRatios: number[] = [];
  const engineRatios: number[] = [];
  const tar = join(work, 'shell.tar');
  const registryBundle = join(work, 'bundle-registry');
  const engineBundle = join(work, 'bundle-engine');

  // (a) the shell pipeline: sequential pulls, save to a file, hash it (a second read).
  const shellBuild = async () => {
    await removeAll(builder);
    await rm(tar, { force: true });
    await settle();
    const started = performance.now();
    for (const ref of refs) {
      await run('docker', ['--host', builderHost, 'pull', '-q', `${registry}/${ref}`]);
      await run('docker', ['--host', builderHost, 'tag', `${registry}/${ref}`, ref]);
    }
    const pulled = performance.now();
    await run('docker', ['--host', builderHost, 'save', '-o', tar, ...refs]);
    const saved = performance.now();
    await run('sh', ['-c', `cd ${work} && sha256sum shell.tar > SHELLSUMS`]);
    const hashed = performance.now();
    shell.push((hashed - started) / 1000);
    shellSteps['pull']!.push((pulled - started) / 1000);
    shellSteps['save']!.push((saved - pulled) / 1000);
    shellSteps['hash']!.push((hashed - saved) / 1000);
    sizes.shell = (await stat(tar)).size;
  };
  const totalSize = (json: BuildJson) => json.metadata.imageArchives.reduce((sum, archive) => sum + archive.size, 0);
  const archiveDigests = (json: BuildJson) => json.metadata.imageArchives.map((archive) => archive.sha256).join(' ');
  let archiveCount = 0;
  const keep = (steps: Record<string, number[]>, json: BuildJson) => {
    for (const [step, ms] of Object.entries(json.timingsMs)) (steps[step] ??= []).push(ms / 1000);
  };
  const archiveBytes = (json: BuildJson) => {
    if (json.metadata.images.length !== COUNT) throw new Error(`the bundle holds ${json.metadata.images.length} images, not ${COUNT}`);
    return totalSize(json);
  };
  // (b) kfbundle build from the registry, with an empty cache: everything is downloaded.
  const registryBuild = async () => {
    await rm(registryBundle, { recursive: true, force: true });
    const cache = await mkdtemp(join(work, 'cache-'));
    await settle();
    const build = await timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', registryBundle, '--cache', cache, '--no-progress', '--json', ...mirror]);
    registryBuilds.push(build.seconds);
    rss.push(build.peakRssMb);
    const json = JSON.parse(build.stdout) as BuildJson;
    keep(registrySteps, json);
    sizes.registry = archiveBytes(json);
    // A rebuild with the cache now warm (not a timed side of the pair): what is left without downloads, the
    // manifests asked for again and the archive written from the cache.
    await settle();
    const again = await timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', registryBundle, '--force', '--cache', cache, '--no-progress', '--json', ...mirror]);
    warmBuilds.push(again.seconds);
    const warm = JSON.parse(again.stdout) as BuildJson;
    keep(warmSteps, warm);
    if (archiveDigests(warm) !== archiveDigests(json)) throw new Error('the rebuild from the warm cache wrote other archives');
    archiveCount = json.metadata.imageArchives.length;
    await rm(cache, { recursive: true, force: true });
  };
  // (c) kfbundle build through the builder engine, as before the registry source.
  const engineBuild = async () => {
    await removeAll(builder);
    await rm(engineBundle, { recursive: true, force: true });
    await settle();
    const build = await timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', engineBundle, '--source', 'engine', '--docker-host', builderHost, '--no-progress', '--json', ...mirror]);
    engineBuilds.push(build.seconds);
    const json = JSON.parse(build.stdout) as BuildJson;
    keep(engineSteps, json);
    sizes.engine = archiveBytes(json);
    await rm(engineBundle, { recursive: true, force: true });
  };

  for (let r = 0; r < RUNS; r++) {
    // The shell and the registry build swap places each run; the engine build goes first or last.
    const order = r % 2 === 0 ? [shellBuild, registryBuild, engineBuild] : [engineBuild, registryBuild, shellBuild];
    for (const side of order) await side();
    buildRatios.push(registryBuilds.at(-1)! / shell.at(-1)!);
    engineRatios.push(engineBuilds.at(-1)! / shell.at(-1)!);
    console.log(`run ${r + 1}: shell ${shell.at(-1)!.toFixed(1)} s, registry build ${registryBuilds.at(-1)!.toFixed(1)} s, engine build ${engineBuilds.at(-1)!.toFixed(1)} s`);
  }
  await removeAll(builder);

  // Where the registry build's download time goes: the same blobs fetched and checked to /dev/null, without the
  // cache, at the build's concurrency (4).
  const downloadOnly: number[] = [];
  for (let r = 0; r < 3; r++) {
    const client = new RegistryClient({ concurrency: 4 });
    try {
      await settle();
      const started = performance.now();
      const images = await Promise.all(refs.map((ref) => client.resolve(`${registry}/${ref}`)));
      const blobs = new Map<string, { image: (typeof images)[number]; size: number }>();
      for (const image of images) for (const blob of [image.config, ...image.layers]) blobs.set(blob.digest, { image, size: blob.size });
      await Promise.all([...blobs].map(async ([digest, { image, size }]) => {
        await pipeline(await client.blob(image, digest, size), createWriteStream('/dev/null'));
      }));
      downloadOnly.push((performance.now() - started) / 1000);
    } finally {
      client.close();
    }
  }

  // Target side: (a) sha256sum -c then docker load of the shell's archive, (b) install.sh of the registry bundle.
  const shellTarget: number[] = [];
  const shellTargetSteps: Record<string, number[]> = { verify: [], load: [] };
  const toolTarget: number[] = [];
  const toolTargetSteps: Record<string, number[]> = { verify: [], load: [] };
  const targetRatios: number[] = [];
  const loadedIds = async () => Promise.all(refs.map(async (ref) => (await target.getImage(ref).inspect()).Id));
  let expectedIds: string[] | undefined;
  const checkLoaded = async (side: string) => {
    const ids = await loadedIds();
    expectedIds ??= ids;
    const differing = refs.filter((_, i) => ids[i] !== expectedIds![i]);
    if (differing.length > 0) throw new Error(`${side} loaded other image IDs for ${differing.join(', ')}`);
  };
  const shellLoad = async () => {
    await removeAll(target);
    await settle();
    const a = performance.now();
    await run('sh', ['-c', `cd ${work} && sha256sum -c --quiet SHELLSUMS`]);
    const b = performance.now();
    await run('docker', ['--host', targetHost, 'load', '-q', '-i', tar]);
    const c = performance.now();
    shellTarget.push((c - a) / 1000);
    shellTargetSteps['verify']!.push((b - a) / 1000);
    shellTargetSteps['load']!.push((c - b) / 1000);
    await checkLoaded('docker load');
  };
  const toolLoad = async () => {
    await removeAll(target);
    await settle();
    const install = await timed('bash', [join(registryBundle, 'install.sh'), '--images-only', '--runtime', 'docker'], { DOCKER_HOST: targetHost });
    toolTarget.push(install.seconds);
    const loading = install.lines.find((line) => line.text.includes('loading images') || line.text.includes(' image archives, '))?.at ?? Number.NaN;
    toolTargetSteps['verify']!.push(loading);
    toolTargetSteps['load']!.push(install.seconds - loading);
    await checkLoaded('install.sh');
  };
  for (let r = 0; r < TARGET_PAIRS; r++) {
    for (const side of r % 2 === 0 ? [shellLoad, toolLoad] : [toolLoad, shellLoad]) await side();
    targetRatios.push(toolTarget.at(-1)! / shellTarget.at(-1)!);
    console.log(`target pair ${r + 1}: sha256sum -c + docker load ${shellTarget.at(-1)!.toFixed(1)} s, install.sh ${toolTarget.at(-1)!.toFixed(1)} s`);
  }
  await removeAll(target);
  await rm(registryBundle, { recursive: true, force: true });
  await rm(tar, { force: true });

  const fmt = (steps: Record<string, number[]>) => Object.entries(steps).map(([step, xs]) => `${step} ${median(xs).toFixed(1)} s`).join(', ');
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
  const [loadEnd] = (await readFile('/proc/loadavg', 'utf8')).split(' ');
  console.log(`\n${COUNT} images, ${(setBytes / 1e9).toFixed(2)} GB of files in their layers, ${RUNS} build runs, ${TARGET_PAIRS} target pairs; load average ${loadavg} at the start, ${loadEnd} at the end`);
  console.log(`size:   registry bundle's ${archiveCount} archive(s) ${gb(sizes.registry)}, engine bundle's ${gb(sizes.engine)} (docker save -o ${gb(sizes.shell)}), ratio ${(sizes.registry / sizes.engine).toFixed(2)}, target <= 0.50`);
  console.log(`build:  shell pipeline ${median(shell).toFixed(1)} s (${fmt(shellSteps)}), registry build ${median(registryBuilds).toFixed(1)} s, ratio ${pairRatio(buildRatios)}, target <= 0.35`);
  console.log(`        registry build steps: ${fmt(registrySteps)}; the same blobs fetched and checked to /dev/null without the cache ${median(downloadOnly).toFixed(1)} s`);
  console.log(`        the same build again with the cache warm ${median(warmBuilds).toFixed(1)} s (${fmt(warmSteps)})`);
  console.log(`        engine build (reference) ${median(engineBuilds).toFixed(1)} s, ratio ${pairRatio(engineRatios)}; steps: ${fmt(engineSteps)}`);
  console.log(`target: sha256sum -c + docker load ${median(shellTarget).toFixed(1)} s (${fmt(shellTargetSteps)}), install.sh --images-only ${median(toolTarget).toFixed(1)} s (${fmt(toolTargetSteps)}), ratio ${pairRatio(targetRatios)}, target <= 0.80`);
  console.log(`kfbundle build (registry) peak RSS: ${Math.max(...rss).toFixed(0)} MB (target <= 150 MB)`);

  for (const size of RSS_SIZES_GB) {
    const count = 8;
    const uniqueMb = Math.max(1, Math.round((size * 1024 - 2 * 32) / count));
    const before = slicer.taken;
    const set = await makeImageSet(`rss${String(size).replace('.', 'p')}`, count, 32, uniqueMb);
    const files = slicer.taken - before;
    const out = join(work, `rss-${size}`);
    const cache = await mkdtemp(join(work, 'cache-'));
    const build = await timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', set.manifests, '--out', out, '--cache', cache, '--no-progress', '--json', ...mirror]);
    const archive = totalSize(JSON.parse(build.stdout) as BuildJson);
    console.log(`peak RSS with ${gb(files)} of images (${gb(archive)} archive): ${build.peakRssMb.toFixed(0)} MB (build ${build.seconds.toFixed(1)} s)`);
    await rm(out, { recursive: true, force: true });
    await rm(cache, { recursive: true, force: true });
  }
} finally {
  clearTimeout(watchdog);
  await run('bash', [join(ROOT, 'scripts/test-env.sh'), 'stop', envDir]);
  await rm(work, { recursive: true, force: true });
}
