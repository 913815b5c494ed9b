// Pushing a bundle into a registry: install.sh's engine-less push over the registry HTTP API against the way people
// do it by hand, measured in one run on the same bundle and the same registry.
//
//   node --import tsx bench/seed-registry.ts [--images 12] [--base-mb 40] [--unique-mb 80] [--pairs 5]
//
// It starts the project's services (scripts/test-env.sh) under a temp directory, builds a synthetic image set whose
// layers are real files of this machine (libraries, binaries, text: they compress as real images do) with two shared
// bases, pushes it to the local registry under a mirror prefix, builds one bundle from there (`kfbundle build
// --no-seed-registry --mirror`), then times pairs, whose order flips from pair to pair:
//   (a) by hand: `docker load -i` of every archive of images/archives.txt, in its order, into the target engine (which
//       holds no image and no memory of earlier pushes), then in a shell loop `docker tag` + `docker push` of every
//       reference of images/refs.txt to 127.0.0.1:PORT/<prefix-a-N>/<ref>; no checksum is verified;
//   (b) `install.sh --images-only --registry 127.0.0.1:PORT/<prefix-b-N> --push-with http`: the bundle's checksums
//       verified (install.sh always does), then every blob pushed with curl straight from the archives.
// Each pair pushes under fresh prefixes, so neither side finds a blob already in its repositories. Every timed side
// starts after `sync`. It checks that both sides really pushed (every tag read back; (a)'s layers uploaded, not
// mounted from an earlier pair; (b)'s digests those of images/manifests.txt; one of (b)'s images pulled back into an
// engine gives the bundle's image ID), and prints the medians and the median of the pairs' ratios (b/a).

import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { filePool, imageSetOptions, imageSetSize, makeImageSet, Slicer } from './lib/image-set.js';
import { Commands, inPairOrder, loadAverage, median, pairRatio, stepMedians } from './lib/measure.js';
import { removeAllImages, withServices } from './lib/services.js';

const { values } = parseArgs({
  options: {
    ...imageSetOptions({ images: 12, baseMb: 40, uniqueMb: 80 }),
    pairs: { type: 'string', default: '5' },
  },
});
const { count: COUNT, baseMb: BASE_MB, uniqueMb: UNIQUE_MB } = imageSetSize(values);
const PAIRS = Number(values.pairs);
const TARGET_RATIO = 0.5;

// Limits: a command that hangs is killed and the benchmark fails, instead of waiting for ever.
const commands = new Commands(10 * 60_000);
const ENGINE_CALL_MS = 10 * 60_000;
const HTTP_MS = 60_000;
const WHOLE_BENCH_MS = 45 * 60_000;

// --- Reading the registry back -------------------------------------------------------------------------------------

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** `ghcr.io/kubeflow/x:v1` as its repository and tag (the bench's references carry no digest and no port). */
function splitRef(ref: string): { repo: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon < ref.lastIndexOf('/')) throw new Error(`${ref} has no tag`);
  return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}

/** The digest the registry serves for REF under PREFIX now, as a pull by tag resolves it; undefined if it has none. */
async function servedDigest(registry: string, prefix: string, ref: string): Promise<string | undefined> {
  const { repo, tag } = splitRef(ref);
  const response = await fetch(`http://${registry}/v2/${prefix}/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT },
    signal: AbortSignal.timeout(HTTP_MS),
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`HEAD ${prefix}/${ref}: HTTP ${response.status}`);
  return response.headers.get('docker-content-digest') ?? undefined;
}

const benchStarted = performance.now();
await withServices({ tempPrefix: 'kfb-seedbench-', commands, wholeMs: WHOLE_BENCH_MS }, async ({ work, envDir, targetHost, registry, builder, target, kfbundle }) => {
  const loadStart = await loadAverage();

  // --- The image set and its bundle ------------------------------------------------------------------------------

  const pool = await filePool();
  const slicer = new Slicer(pool);
  console.log(`file pool: ${pool.length} files, ${(pool.reduce((s, f) => s + f.size, 0) / 1e9).toFixed(2)} GB; load average ${loadStart}`);
  const madeAt = performance.now();
  console.log(`making ${COUNT} images: 2 bases of ${BASE_MB} MB, ${UNIQUE_MB} MB of their own each (${((2 * BASE_MB + COUNT * UNIQUE_MB) / 1024).toFixed(2)} GB)`);
  const { manifests, bytes: setBytes } = await makeImageSet({
    builder, registry, slicer, dir: work, engineCallMs: ENGINE_CALL_MS, name: 'seedbench', count: COUNT, baseMb: BASE_MB, uniqueMb: UNIQUE_MB,
  });
  console.log(`  made and pushed in ${((performance.now() - madeAt) / 1000).toFixed(0)} s: ${(setBytes / 1e9).toFixed(2)} GB of files`);

  const bundle = join(work, 'bundle');
  const built = await commands.run(process.execPath, [kfbundle, 'build', '--no-seed-registry', '--manifests', manifests, '--out', bundle,
    '--cache', join(work, 'cache'), '--no-progress', '--json', '--mirror', `ghcr.io=${registry}/ghcr.io`]);
  await rm(join(work, 'cache'), { recursive: true, force: true });
  interface BundleJson {
    images: { ref: string; imageId: string; manifestDigest: string }[];
    imageArchives: { path: string; stage: number; size: number; parts: string[] }[];
  }
  const metadata = (JSON.parse(built.stdout) as { metadata: BundleJson }).metadata;
  const archives = metadata.imageArchives;
  if (archives.some((archive) => archive.parts.length !== 1)) throw new Error('the bundle has split archives: (a) loads whole files');
  const bundleRefs = (await readFile(join(bundle, 'images/refs.txt'), 'utf8')).trim().split('\n');
  if (bundleRefs.length !== COUNT) throw new Error(`images/refs.txt names ${bundleRefs.length} images, not ${COUNT}`);
  /** images/manifests.txt: the digest each reference's manifest has upstream, which a byte-for-byte push keeps. */
  const upstream = new Map((await readFile(join(bundle, 'images/manifests.txt'), 'utf8')).trim().split('\n').map((line) => {
    const [ref, digest] = line.split('\t');
    return [ref!, digest!] as const;
  }));
  const blobLines = (await readFile(join(bundle, 'images/push.txt'), 'utf8')).split('\n').filter((line) => line.startsWith('blob\t')).length;
  const archiveBytes = archives.reduce((sum, archive) => sum + archive.size, 0);
  console.log(`  bundle: ${COUNT} images, ${archives.length} archive(s) of ${(archiveBytes / 1e9).toFixed(2)} GB (stages ${archives.map((a) => a.stage).join(', ')}), ${blobLines} blobs in images/push.txt`);

  // --- The two sides -----------------------------------------------------------------------------------------------

  // The target engine's memory of which registry repositories hold which compressed layer. It survives removing the
  // images, and with it `docker push` of the next pair mounts every layer from the pair before instead of
  // compressing and uploading it: a node that has never pushed these images has none, so (a) starts without it.
  const targetInfo = (await target.info()) as { DockerRootDir: string; Driver: string };
  const pushMemory = join(targetInfo.DockerRootDir, 'image', targetInfo.Driver, 'distribution');
  if (!pushMemory.startsWith(envDir)) throw new Error(`the target engine's data root ${targetInfo.DockerRootDir} is not the benchmark's own`);
  // Its contents only: the engine reads these files on each lookup and makes their directories again as it writes.
  const forgetPushes = async () => {
    for (const name of await readdir(pushMemory).catch(() => [] as string[])) await rm(join(pushMemory, name), { recursive: true, force: true });
  };

  const baseline: number[] = [];
  const baselineSteps: Record<string, number[]> = { load: [], push: [] };
  const tool: number[] = [];
  const toolSteps: Record<string, number[]> = { verify: [], push: [] };
  const ratios: number[] = [];
  /** The machine's load average after each pair: other work on it shows here. */
  const loads: number[] = [];
  const layerCounts = { pushed: 0, mounted: 0 };
  let baselineKeptDigests = 0;
  let toolSummary = '';
  const stamp = Date.now().toString(36);
  const prefix = (side: 'a' | 'b', pair: number) => `seedbench-${stamp}-${side}-${pair}`;
  // The script of (a), as a person would type it: load every archive, then tag and push every reference.
  const byHand = [
    'set -euo pipefail',
    'while IFS=$\'\\t\' read -r _stage archive; do docker load -q -i "$archive"; done < images/archives.txt',
    'echo "== loaded"',
    'while IFS= read -r ref; do docker tag "$ref" "$TARGET/$ref"; docker push "$TARGET/$ref"; done < images/refs.txt',
  ].join('\n');

  const sideA = async (pair: number) => {
    await removeAllImages(target);
    if ((await target.listImages({ all: true })).length > 0) throw new Error('the target engine still holds images before (a)');
    await forgetPushes();
    await commands.settle();
    const to = `${registry}/${prefix('a', pair)}`;
    const result = await commands.timed('bash', ['-c', `cd "${bundle}" && ${byHand}`], { DOCKER_HOST: targetHost, TARGET: to });
    const loaded = result.lines.find((line) => line.text === '== loaded')!.at;
    baseline.push(result.seconds);
    baselineSteps['load']!.push(loaded);
    baselineSteps['push']!.push(result.seconds - loaded);
    // Really pushed: every layer of every image uploaded, or mounted only from a repository of this same pair (a
    // base layer that an image before it sent); none found already there.
    let statuses = 0;
    for (const line of result.lines) {
      const status = /^[0-9a-f]{12}: (Pushed|Mounted from (\S+)|Layer already exists)$/.exec(line.text);
      if (status === null) continue;
      statuses++;
      if (status[1] === 'Pushed') layerCounts.pushed++;
      else if (status[2] !== undefined && status[2].startsWith(`${prefix('a', pair)}/`)) layerCounts.mounted++;
      else throw new Error(`(a) did not push a layer: ${line.text}`);
    }
    const layers = (await Promise.all(bundleRefs.map(async (ref) => (await target.getImage(ref).inspect()).RootFS.Layers?.length ?? 0))).reduce((a, b) => a + b, 0);
    if (statuses !== layers) throw new Error(`(a)'s docker push said what it did with ${statuses} layers, not with the images' ${layers}`);
    for (const ref of bundleRefs) {
      const served = await servedDigest(registry, prefix('a', pair), ref);
      if (served === undefined) throw new Error(`(a) left no ${to}/${ref}`);
      if (served === upstream.get(ref)) baselineKeptDigests++;
    }
  };

  const sideB = async (pair: number) => {
    await commands.settle();
    const to = `${registry}/${prefix('b', pair)}`;
    // (b) uses no engine: DOCKER_HOST is left out of its environment.
    const result = await commands.timed('bash', [join(bundle, 'install.sh'), '--images-only', '--registry', to, '--push-with', 'http'], { DOCKER_HOST: undefined });
    const verified = result.lines.find((line) => line.text.includes('bundle verified'))?.at;
    if (verified === undefined) throw new Error('install.sh did not say it verified the bundle');
    tool.push(result.seconds);
    toolSteps['verify']!.push(verified);
    toolSteps['push']!.push(result.seconds - verified);
    // Really pushed, and from a clean start: nothing was there before, and every tag serves the upstream digest.
    const summary = result.lines.find((line) => line.text.includes('over HTTP:'))?.text ?? '';
    if (!/ 0 already there/.test(summary)) throw new Error(`(b) found blobs already there: ${summary}`);
    toolSummary = summary.replace(/^kfbundle install: /, '');
    for (const ref of bundleRefs) {
      const served = await servedDigest(registry, prefix('b', pair), ref);
      if (served !== upstream.get(ref)) throw new Error(`${to}/${ref} is served as ${served}, not as ${upstream.get(ref)} (images/manifests.txt)`);
    }
  };

  for (let pair = 0; pair < PAIRS; pair++) {
    await inPairOrder(pair, () => sideA(pair), () => sideB(pair));
    ratios.push(tool.at(-1)! / baseline.at(-1)!);
    const load = await loadAverage();
    loads.push(Number(load));
    console.log(`pair ${pair + 1}: (a) docker load + docker push ${baseline.at(-1)!.toFixed(1)} s, (b) install.sh --push-with http ${tool.at(-1)!.toFixed(1)} s; load average ${load}`);
  }

  // One of (b)'s images pulled back into an engine: the bundle's image, by its image ID and its manifest digest.
  await removeAllImages(target);
  await forgetPushes();
  const probe = bundleRefs.at(-1)!;
  const pulledRef = `${registry}/${prefix('b', 0)}/${probe}`;
  await commands.run('docker', ['--host', targetHost, 'pull', '-q', pulledRef]);
  const pulled = await target.getImage(pulledRef).inspect();
  const expected = metadata.images.find((image) => image.ref === probe)!;
  if (pulled.Id !== expected.imageId) throw new Error(`${pulledRef} pulled back as ${pulled.Id}, not as the bundle's ${expected.imageId}`);
  if (!pulled.RepoDigests.includes(`${registry}/${prefix('b', 0)}/${splitRef(probe).repo}@${upstream.get(probe)}`)) {
    throw new Error(`${pulledRef} pulled back with digests ${pulled.RepoDigests.join(', ')}, not ${upstream.get(probe)}`);
  }
  await removeAllImages(target);

  const loadEnd = await loadAverage();
  const ratio = median(ratios);
  console.log(`\n${COUNT} images, ${(setBytes / 1e9).toFixed(2)} GB of files in their layers, bundle ${(archiveBytes / 1e9).toFixed(2)} GB in ${archives.length} archive(s); ${PAIRS} pairs; load average ${loadStart} at the start, ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)} after the pairs, ${loadEnd} at the end; ${((performance.now() - benchStarted) / 60_000).toFixed(1)} min in all`);
  console.log(`(a) docker load + docker tag/push loop: ${median(baseline).toFixed(1)} s (${stepMedians(baselineSteps)}); no checksums verified`);
  console.log(`    ${layerCounts.pushed / PAIRS} layers uploaded and ${layerCounts.mounted / PAIRS} mounted within the pair's own prefix per pair; ${baselineKeptDigests / PAIRS} of ${COUNT} tags with the upstream manifest digest`);
  console.log(`(b) install.sh --images-only --push-with http: ${median(tool).toFixed(1)} s (${stepMedians(toolSteps)}); verify = every file's checksum, which install.sh always checks`);
  console.log(`    last pair: ${toolSummary}; every tag read back with the digest of images/manifests.txt; ${probe} pulled back into an engine with the bundle's image ID`);
  console.log(`ratio b/a: ${pairRatio(ratios)}, target <= ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'}`);
});
