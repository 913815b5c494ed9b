// Build and install throughput against the seeds' shell pipeline, measured in one run on the same engines.
//
//   node --import tsx bench/build-vs-shell.ts [--images 20] [--base-mb 40] [--unique-mb 60] [--runs 3] [--rss-gb 1,4]
//
// It starts the project's services (scripts/test-env.sh), builds a synthetic image set that shares base layers like
// real Kubeflow images, pushes it to the local registry under a mirror prefix, then alternates, run by run:
//   build side:  (a) `docker pull` each image one at a time, `docker save -o`, `sha256sum`   (b) `kfbundle build`
//   target side: (a) `sha256sum -c` + `docker load`                                       (b) `install.sh --images-only`
// and the save path alone: (a) `docker save > /dev/null`  (b) kfbundle's save stream (its batches, two saves under way,
// merged, normalised and hashed) to /dev/null, with one save normalised and hashed as a reference;
// then, with --rss-gb, one build per archive size to show that kfbundle's peak resident memory does not grow with it.
// Each run is a pair whose order flips from run to run; it prints the median of each time, the median of the pairs'
// ratios with their range, where kfbundle's build time goes, and the peak RSS figures.

import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type Docker from 'dockerode';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create as createTar } from 'tar';
import { DockerImageStore } from '../src/io/docker-image-store.js';
import { HashingStream } from '../src/io/hashing-stream.js';
import { planSaveBatches } from '../src/core/save-batches.js';
import { drain, imageSetOptions, imageSetSize, writePodManifests } from './lib/image-set.js';
import { addSteps, Commands, inPairOrder, median, pairRatio, stepMedians } from './lib/measure.js';
import { removeAllImages, withServices } from './lib/services.js';

const { values } = parseArgs({
  options: {
    ...imageSetOptions({ images: 20, baseMb: 40, uniqueMb: 60 }),
    runs: { type: 'string', default: '3' },
    'rss-gb': { type: 'string', default: '' },
  },
});
const { count: COUNT, baseMb: BASE_MB, uniqueMb: UNIQUE_MB } = imageSetSize(values);
const RUNS = Number(values.runs);
const RSS_SIZES_GB = values['rss-gb'] === '' ? [] : values['rss-gb']!.split(',').map(Number);
// A command that hangs is killed and the benchmark fails, instead of waiting for ever (a 4 GB save takes minutes).
const commands = new Commands(15 * 60_000);

async function buildContext(dir: string, files: Record<string, Buffer>, dockerfile: string): Promise<Readable> {
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return createTar({ cwd: dir, portable: true }, ['Dockerfile', ...Object.keys(files)]) as unknown as Readable;
}

/** Random bytes that do not compress, like real layers. */
function noise(mb: number, seed: number): Buffer {
  const buffer = Buffer.alloc(mb * 1024 * 1024);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < buffer.length; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    buffer.writeUInt32LE(x, i);
  }
  return buffer;
}

/** Two base images shared by half the set each, then one unique layer per image; pushed, then removed locally. */
async function makeImageSet(builder: Docker, registry: string, work: string, name: string, count: number, baseMb: number, uniqueMb: number): Promise<{ refs: string[]; manifests: string }> {
  for (const base of [0, 1]) {
    const dir = await mkdtemp(join(work, 'ctx-'));
    const context = await buildContext(dir, { busybox: await readFile('/bin/busybox'), base: noise(baseMb, base + 1) }, 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY base /base\n');
    await drain((await builder.buildImage(context, { t: `${name}-base-${base}:1` })) as unknown as Readable);
    await rm(dir, { recursive: true, force: true });
  }
  const refs: string[] = [];
  for (let i = 0; i < count; i++) {
    const dir = await mkdtemp(join(work, 'ctx-'));
    const context = await buildContext(dir, { layer: noise(uniqueMb, 100 + i) }, `FROM ${name}-base-${i % 2}:1\nCOPY layer /layer\n`);
    const ref = `ghcr.io/kubeflow/${name}-image-${i}:v1`;
    const mirrored = `${registry}/${ref}`;
    await drain((await builder.buildImage(context, { t: mirrored })) as unknown as Readable);
    await drain((await builder.getImage(mirrored).push({ authconfig: { serveraddress: registry } } as never)) as unknown as Readable);
    await rm(dir, { recursive: true, force: true });
    refs.push(ref);
  }
  await removeAllImages(builder);
  const manifests = join(work, `${name}.yaml`);
  await writePodManifests(manifests, refs);
  return { refs, manifests };
}

/**
 * Save + merge + normalise + hash in this process to /dev/null: the archive path of kfbundle build without the disk,
 * in its batches (`batched`), or as one save.
 */
async function saveAndHash(host: string, refs: string[], batched: boolean): Promise<number> {
  const store = new DockerImageStore({ host });
  const started = performance.now();
  const hasher = new HashingStream();
  const archive = batched ? store.saveBatches(Readable.from(planSaveBatches(refs))) : await store.save(refs);
  await pipeline(archive, hasher, createWriteStream('/dev/null', { highWaterMark: 4 * 1024 * 1024 }));
  if (hasher.bytes === 0) throw new Error('empty save');
  return (performance.now() - started) / 1000;
}

await withServices({ tempPrefix: 'kfb-bench-', commands }, async ({ work, builderHost, targetHost, registry, builder, target, kfbundle }) => {
  const buildArgs = (manifests: string, out: string) => [
    kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', out, '--source', 'engine', '--docker-host', builderHost, '--no-progress', '--json', '--mirror', `ghcr.io=${registry}/ghcr.io`,
  ];

  console.log(`making ${COUNT} images: 2 bases of ${BASE_MB} MB, ${UNIQUE_MB} MB unique each`);
  const { refs, manifests } = await makeImageSet(builder, registry, work, 'bench', COUNT, BASE_MB, UNIQUE_MB);

  const dockerCli = (host: string) => ['--host', host];
  const shell: number[] = [];
  const tool: number[] = [];
  const shellTarget: number[] = [];
  const toolTarget: number[] = [];
  const rss: number[] = [];
  const steps: Record<string, number[]> = {};
  const buildRatios: number[] = [];
  const targetRatios: number[] = [];
  const tar = join(work, 'shell.tar');
  const bundleDir = (r: number) => join(work, `bundle-${r}`);
  // (a) the shell pipeline: sequential pulls, save to a file, hash it (a second read).
  const shellBuild = async () => {
    await removeAllImages(builder);
    await commands.settle();
    const started = performance.now();
    for (const ref of refs) {
      await commands.run('docker', [...dockerCli(builderHost), 'pull', '-q', `${registry}/${ref}`]);
      await commands.run('docker', [...dockerCli(builderHost), 'tag', `${registry}/${ref}`, ref]);
    }
    await commands.run('docker', [...dockerCli(builderHost), 'save', '-o', tar, ...refs]);
    await commands.run('sh', ['-c', `cd ${work} && sha256sum shell.tar > SHELLSUMS`]);
    shell.push((performance.now() - started) / 1000);
  };
  // (b) kfbundle build from the same registry.
  const toolBuild = async (r: number) => {
    await removeAllImages(builder);
    await commands.settle();
    const build = await commands.timed(process.execPath, buildArgs(manifests, bundleDir(r)));
    tool.push(build.seconds);
    rss.push(build.peakRssMb);
    addSteps(steps, (JSON.parse(build.stdout) as { timingsMs: Record<string, number> }).timingsMs);
  };
  // Target side: (a) sha256sum -c then docker load, (b) install.sh --images-only.
  const shellLoad = async () => {
    await removeAllImages(target);
    await commands.settle();
    const a = performance.now();
    await commands.run('sh', ['-c', `cd ${work} && sha256sum -c --quiet SHELLSUMS && docker --host ${targetHost} load -q -i shell.tar`]);
    shellTarget.push((performance.now() - a) / 1000);
  };
  const toolLoad = async (r: number) => {
    await removeAllImages(target);
    await commands.settle();
    toolTarget.push((await commands.timed('bash', [join(bundleDir(r), 'install.sh'), '--images-only', '--runtime', 'docker'], { DOCKER_HOST: targetHost })).seconds);
  };
  // Each run is a pair; which side goes first flips from run to run, and the ratios are taken within the pair, so
  // the machine's drift over the benchmark's half hour does not land on one side.
  for (let r = 0; r < RUNS; r++) {
    await inPairOrder(r, shellBuild, () => toolBuild(r));
    await inPairOrder(r, shellLoad, () => toolLoad(r));
    buildRatios.push(tool.at(-1)! / shell.at(-1)!);
    targetRatios.push(toolTarget.at(-1)! / shellTarget.at(-1)!);
    if (r < RUNS - 1) {
      await rm(bundleDir(r), { recursive: true, force: true });
      await rm(tar, { force: true });
    }
    console.log(`run ${r + 1}: shell ${shell.at(-1)!.toFixed(1)} s, kfbundle ${tool.at(-1)!.toFixed(1)} s; target shell ${shellTarget.at(-1)!.toFixed(1)} s, install.sh ${toolTarget.at(-1)!.toFixed(1)} s`);
  }
  // The target side swings with docker load, which is most of both sides; a pair takes under a minute, so it gets
  // at least five, the later ones on the last run's bundle and tarball.
  for (let r = RUNS; r < Math.max(RUNS, 5); r++) {
    await inPairOrder(r, shellLoad, () => toolLoad(RUNS - 1));
    targetRatios.push(toolTarget.at(-1)! / shellTarget.at(-1)!);
    console.log(`target pair ${r + 1}: shell ${shellTarget.at(-1)!.toFixed(1)} s, install.sh ${toolTarget.at(-1)!.toFixed(1)} s`);
  }
  await rm(bundleDir(RUNS - 1), { recursive: true, force: true });
  await rm(tar, { force: true });

  // The save path alone, with every image in the engine (a rebuild): bare docker save vs kfbundle's save path, its
  // batches merged, normalised and hashed. Most of a save is the engine copying layers to its scratch directory on one
  // core, which kfbundle runs for two batches at once; one save through the same normalising and hashing is printed
  // beside it, to show what that is worth. That time drifts from run to run on a shared machine by more than the gaps,
  // so the runs go in pairs, the order flipping each pair (the second finds more layers in the page cache), and the
  // figure is the median of the pairs' ratios.
  const bare: number[] = [];
  const ours: number[] = [];
  const single: number[] = [];
  const saveRatios: number[] = [];
  const singleRatios: number[] = [];
  const bareSave = async () => {
    const a = performance.now();
    await commands.run('sh', ['-c', `docker --host ${builderHost} save ${refs.join(' ')} > /dev/null`]);
    bare.push((performance.now() - a) / 1000);
  };
  const oursSave = async () => {
    ours.push(await saveAndHash(builderHost, refs, true));
  };
  for (let r = 0; r < Math.max(RUNS, 7); r++) {
    await inPairOrder(r, bareSave, oursSave);
    saveRatios.push(bare.at(-1)! / ours.at(-1)!);
    single.push(await saveAndHash(builderHost, refs, false));
    singleRatios.push(bare.at(-1)! / single.at(-1)!);
  }

  const bytes = (COUNT * UNIQUE_MB + 2 * BASE_MB) / 1024;
  console.log(`\n${COUNT} images, ~${bytes.toFixed(2)} GB of layers, median of ${RUNS} runs (target side: ${targetRatios.length} pairs)`);
  console.log(`build:  shell pipeline ${median(shell).toFixed(1)} s, kfbundle build ${median(tool).toFixed(1)} s, ratio ${pairRatio(buildRatios)}, target <= 0.65`);
  console.log(`        kfbundle steps: ${stepMedians(steps)}`);
  console.log(`save:   docker save > /dev/null ${median(bare).toFixed(2)} s, kfbundle save + normalise + hash ${median(ours).toFixed(2)} s, throughput ratio ${pairRatio(saveRatios)}, target >= 0.95`);
  console.log(`        one save + normalise + hash (reference, not what kfbundle runs) ${median(single).toFixed(2)} s, ratio ${pairRatio(singleRatios)}`);
  console.log(`target: sha256sum -c + docker load ${median(shellTarget).toFixed(1)} s, install.sh --images-only ${median(toolTarget).toFixed(1)} s, ratio ${pairRatio(targetRatios)}, target <= 0.80`);
  console.log(`kfbundle peak RSS: ${Math.max(...rss).toFixed(0)} MB (target <= 150 MB)`);

  for (const gb of RSS_SIZES_GB) {
    await removeAllImages(builder);
    const count = 8;
    const uniqueMb = Math.max(1, Math.round((gb * 1024 - 2 * 32) / count));
    const set = await makeImageSet(builder, registry, work, `rss${String(gb).replace('.', 'p')}`, count, 32, uniqueMb);
    const out = join(work, `rss-${gb}`);
    const build = await commands.timed(process.execPath, buildArgs(set.manifests, out));
    const size = (JSON.parse(build.stdout) as { metadata: { imageArchives: { size: number }[] } }).metadata.imageArchives.reduce((sum, archive) => sum + archive.size, 0);
    console.log(`peak RSS at ${(size / 1e9).toFixed(2)} GB archive: ${build.peakRssMb.toFixed(0)} MB (build ${build.seconds.toFixed(1)} s)`);
    await rm(out, { recursive: true, force: true });
    await removeAllImages(builder);
  }
});
