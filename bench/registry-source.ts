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

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { RegistryClient } from '../src/io/registry-client.js';
import { filePool, imageSetOptions, imageSetSize, makeImageSet, Slicer } from './lib/image-set.js';
import { addSteps, Commands, inPairOrder, loadAverage, median, pairRatio, stepMedians } from './lib/measure.js';
import { removeAllImages, withServices } from './lib/services.js';

const { values } = parseArgs({
  options: {
    ...imageSetOptions({ images: 20, baseMb: 40, uniqueMb: 45 }),
    runs: { type: 'string', default: '5' },
    'target-pairs': { type: 'string', default: '5' },
    'rss-gb': { type: 'string', default: '' },
  },
});
const { count: COUNT, baseMb: BASE_MB, uniqueMb: UNIQUE_MB } = imageSetSize(values);
const RUNS = Number(values.runs);
const TARGET_PAIRS = Math.max(RUNS, Number(values['target-pairs']));
const RSS_SIZES_GB = values['rss-gb'] === '' ? [] : values['rss-gb']!.split(',').map(Number);

// Limits: a command that hangs is killed and the benchmark fails, instead of waiting for ever.
const commands = new Commands(15 * 60_000);
const ENGINE_CALL_MS = 10 * 60_000;
const WHOLE_BENCH_MS = 150 * 60_000;

await withServices({ tempPrefix: 'kfb-regbench-', commands, wholeMs: WHOLE_BENCH_MS }, async ({ work, builderHost, targetHost, registry, builder, target, kfbundle }) => {
  const mirror = ['--mirror', `ghcr.io=${registry}/ghcr.io`];
  const loadavg = await loadAverage();

  const pool = await filePool();
  const slicer = new Slicer(pool);
  console.log(`file pool: ${pool.length} files, ${(pool.reduce((s, f) => s + f.size, 0) / 1e9).toFixed(2)} GB; load average ${loadavg}`);

  const imageSet = (name: string, count: number, baseMb: number, uniqueMb: number) =>
    makeImageSet({ builder, registry, slicer, dir: work, engineCallMs: ENGINE_CALL_MS, name, count, baseMb, uniqueMb });

  const madeAt = performance.now();
  console.log(`making ${COUNT} images: 2 bases of ${BASE_MB} MB, ${UNIQUE_MB} MB of their own each (${((2 * BASE_MB + COUNT * UNIQUE_MB) / 1024).toFixed(2)} GB)`);
  const { refs, manifests, bytes: setBytes } = await imageSet('regsrc', COUNT, BASE_MB, UNIQUE_MB);
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
    await removeAllImages(builder);
    await rm(tar, { force: true });
    await commands.settle();
    const started = performance.now();
    for (const ref of refs) {
      await commands.run('docker', ['--host', builderHost, 'pull', '-q', `${registry}/${ref}`]);
      await commands.run('docker', ['--host', builderHost, 'tag', `${registry}/${ref}`, ref]);
    }
    const pulled = performance.now();
    await commands.run('docker', ['--host', builderHost, 'save', '-o', tar, ...refs]);
    const saved = performance.now();
    await commands.run('sh', ['-c', `cd ${work} && sha256sum shell.tar > SHELLSUMS`]);
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
  const archiveBytes = (json: BuildJson) => {
    if (json.metadata.images.length !== COUNT) throw new Error(`the bundle holds ${json.metadata.images.length} images, not ${COUNT}`);
    return totalSize(json);
  };
  // (b) kfbundle build from the registry, with an empty cache: everything is downloaded.
  const registryBuild = async () => {
    await rm(registryBundle, { recursive: true, force: true });
    const cache = await mkdtemp(join(work, 'cache-'));
    await commands.settle();
    const build = await commands.timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', registryBundle, '--cache', cache, '--no-progress', '--json', ...mirror]);
    registryBuilds.push(build.seconds);
    rss.push(build.peakRssMb);
    const json = JSON.parse(build.stdout) as BuildJson;
    addSteps(registrySteps, json.timingsMs);
    sizes.registry = archiveBytes(json);
    // A rebuild with the cache now warm (not a timed side of the pair): what is left without downloads, the
    // manifests asked for again and the archive written from the cache.
    await commands.settle();
    const again = await commands.timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', registryBundle, '--force', '--cache', cache, '--no-progress', '--json', ...mirror]);
    warmBuilds.push(again.seconds);
    const warm = JSON.parse(again.stdout) as BuildJson;
    addSteps(warmSteps, warm.timingsMs);
    if (archiveDigests(warm) !== archiveDigests(json)) throw new Error('the rebuild from the warm cache wrote other archives');
    archiveCount = json.metadata.imageArchives.length;
    await rm(cache, { recursive: true, force: true });
  };
  // (c) kfbundle build through the builder engine, as before the registry source.
  const engineBuild = async () => {
    await removeAllImages(builder);
    await rm(engineBundle, { recursive: true, force: true });
    await commands.settle();
    const build = await commands.timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', engineBundle, '--source', 'engine', '--docker-host', builderHost, '--no-progress', '--json', ...mirror]);
    engineBuilds.push(build.seconds);
    const json = JSON.parse(build.stdout) as BuildJson;
    addSteps(engineSteps, json.timingsMs);
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
  await removeAllImages(builder);

  // Where the registry build's download time goes: the same blobs fetched and checked to /dev/null, without the
  // cache, at the build's concurrency (4).
  const downloadOnly: number[] = [];
  for (let r = 0; r < 3; r++) {
    const client = new RegistryClient({ concurrency: 4 });
    try {
      await commands.settle();
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
    await removeAllImages(target);
    await commands.settle();
    const a = performance.now();
    await commands.run('sh', ['-c', `cd ${work} && sha256sum -c --quiet SHELLSUMS`]);
    const b = performance.now();
    await commands.run('docker', ['--host', targetHost, 'load', '-q', '-i', tar]);
    const c = performance.now();
    shellTarget.push((c - a) / 1000);
    shellTargetSteps['verify']!.push((b - a) / 1000);
    shellTargetSteps['load']!.push((c - b) / 1000);
    await checkLoaded('docker load');
  };
  const toolLoad = async () => {
    await removeAllImages(target);
    await commands.settle();
    const install = await commands.timed('bash', [join(registryBundle, 'install.sh'), '--images-only', '--runtime', 'docker'], { DOCKER_HOST: targetHost });
    toolTarget.push(install.seconds);
    const loading = install.lines.find((line) => line.text.includes('loading images') || line.text.includes(' image archives, '))?.at ?? Number.NaN;
    toolTargetSteps['verify']!.push(loading);
    toolTargetSteps['load']!.push(install.seconds - loading);
    await checkLoaded('install.sh');
  };
  for (let r = 0; r < TARGET_PAIRS; r++) {
    await inPairOrder(r, shellLoad, toolLoad);
    targetRatios.push(toolTarget.at(-1)! / shellTarget.at(-1)!);
    console.log(`target pair ${r + 1}: sha256sum -c + docker load ${shellTarget.at(-1)!.toFixed(1)} s, install.sh ${toolTarget.at(-1)!.toFixed(1)} s`);
  }
  await removeAllImages(target);
  await rm(registryBundle, { recursive: true, force: true });
  await rm(tar, { force: true });

  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
  const loadEnd = await loadAverage();
  console.log(`\n${COUNT} images, ${(setBytes / 1e9).toFixed(2)} GB of files in their layers, ${RUNS} build runs, ${TARGET_PAIRS} target pairs; load average ${loadavg} at the start, ${loadEnd} at the end`);
  console.log(`size:   registry bundle's ${archiveCount} archive(s) ${gb(sizes.registry)}, engine bundle's ${gb(sizes.engine)} (docker save -o ${gb(sizes.shell)}), ratio ${(sizes.registry / sizes.engine).toFixed(2)}, target <= 0.50`);
  console.log(`build:  shell pipeline ${median(shell).toFixed(1)} s (${stepMedians(shellSteps)}), registry build ${median(registryBuilds).toFixed(1)} s, ratio ${pairRatio(buildRatios)}, target <= 0.35`);
  console.log(`        registry build steps: ${stepMedians(registrySteps)}; the same blobs fetched and checked to /dev/null without the cache ${median(downloadOnly).toFixed(1)} s`);
  console.log(`        the same build again with the cache warm ${median(warmBuilds).toFixed(1)} s (${stepMedians(warmSteps)})`);
  console.log(`        engine build (reference) ${median(engineBuilds).toFixed(1)} s, ratio ${pairRatio(engineRatios)}; steps: ${stepMedians(engineSteps)}`);
  console.log(`target: sha256sum -c + docker load ${median(shellTarget).toFixed(1)} s (${stepMedians(shellTargetSteps)}), install.sh --images-only ${median(toolTarget).toFixed(1)} s (${stepMedians(toolTargetSteps)}), ratio ${pairRatio(targetRatios)}, target <= 0.80`);
  console.log(`kfbundle build (registry) peak RSS: ${Math.max(...rss).toFixed(0)} MB (target <= 150 MB)`);

  for (const size of RSS_SIZES_GB) {
    const count = 8;
    const uniqueMb = Math.max(1, Math.round((size * 1024 - 2 * 32) / count));
    const set = await imageSet(`rss${String(size).replace('.', 'p')}`, count, 32, uniqueMb);
    const files = set.bytes;
    const out = join(work, `rss-${size}`);
    const cache = await mkdtemp(join(work, 'cache-'));
    const build = await commands.timed(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', set.manifests, '--out', out, '--cache', cache, '--no-progress', '--json', ...mirror]);
    const archive = totalSize(JSON.parse(build.stdout) as BuildJson);
    console.log(`peak RSS with ${gb(files)} of images (${gb(archive)} archive): ${build.peakRssMb.toFixed(0)} MB (build ${build.seconds.toFixed(1)} s)`);
    await rm(out, { recursive: true, force: true });
    await rm(cache, { recursive: true, force: true });
  }
});
