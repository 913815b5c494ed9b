// `kfbundle inspect`: a bundle's contents at a glance, or as JSON.

import { inspectBundle, type BundleSummary } from '../../app/inspect-bundle.js';
import { BUNDLE_FILES, SEED_REGISTRY_STAGE } from '../../core/bundle-layout.js';
import { DirectoryBundleReader } from '../../io/bundle-reader.js';
import { formatCpu, formatMemory } from '../../core/resource-quantity.js';
import { formatBytes } from '../../ui/format.js';
import { writeJson, type CliContext } from '../context.js';

export interface InspectCommandOptions {
  json: boolean;
  images: boolean;
}

export async function runInspect(bundle: string, options: InspectCommandOptions, context: CliContext): Promise<number> {
  const summary = await inspectBundle(new DirectoryBundleReader(bundle));
  if (options.json) {
    writeJson(context, { bundle, ...summary });
    return 0;
  }
  const lines = [
    `bundle     ${bundle}  (format ${summary.formatVersion}, made by ${summary.tool})`,
    `release    ${summary.input.name}${summary.spec === null ? '' : `  (spec ${summary.spec})`}, ${summary.input.objects} objects`,
    ...platformLines(summary),
    `images     ${summary.images.reduce((n, g) => n + g.count, 0)} bundled, tiers ${summary.tiers.join(', ')}`,
    ...summary.images.map((g) => `  ${g.tier.padEnd(11)} ${String(g.count).padStart(4)}  ${formatBytes(g.bytes)} uncompressed`),
    ...(summary.notBundled.length === 0 ? [] : [`  not bundled ${summary.notBundled.length} (${[...new Set(summary.notBundled.map((i) => i.tier))].join(', ')}); see bundle.json resolution.notBundled`]),
    ...archiveLines(summary.archives, summary.platforms.length > 0),
    ...(summary.base === null
      ? []
      : [
          `base       a delta on release ${summary.base.release} (bundle ${summary.base.contentDigest.slice(0, 12)}): ${summary.base.taken} images are its own, ` +
            `and the target needs ${summary.base.needs} of its images (${BUNDLE_FILES.baseImages})`,
        ]),
    `registry   ${summary.registry === null ? 'none at build time (install.sh --registry R can push and relocate)' : `${summary.registry} (manifests/ name every image there; install.sh pushes there)`}`,
    ...requirementLines(summary.requirements),
    `phases     ${summary.phases.length}`,
    ...summary.phases.map((p) => `  ${p.name.padEnd(36)} ${String(p.objects).padStart(4)} objects, ${p.waits} waits`),
    `signature  ${summary.signed ? `${BUNDLE_FILES.signature} present (check it: kfbundle verify BUNDLE --key PUB)` : 'unsigned'}`,
    `size       ${formatBytes(summary.totalBytes)} in ${summary.files} files`,
    ...(summary.warnings > 0 ? [`warnings   ${summary.warnings} (bundle.json resolution.warnings, plan.warnings)`] : []),
  ];
  if (options.images) for (const group of summary.images) lines.push(`${group.tier}:`, ...group.refs.map((ref) => `  ${ref}`));
  context.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** What install.sh's preflight compares with the cluster. */
function requirementLines(requirements: BundleSummary['requirements']): string[] {
  if (requirements === null) return [];
  const { requests, perNode, sidecars, largestPod, defaultClassClaims, kubernetes } = requirements;
  return [
    `requires   ${formatCpu(requests.cpuMillis)} CPU and ${formatMemory(requests.memoryBytes)} requested by ${requests.pods} pod${requests.pods === 1 ? '' : 's'}` +
      (perNode.pods === 0 ? '' : `, plus ${formatCpu(perNode.cpuMillis)} CPU and ${formatMemory(perNode.memoryBytes)} on each node (DaemonSets)`) +
      (sidecars.pods === 0 ? '' : `; Istio's proxy counted in ${sidecars.pods} of them`),
    ...(largestPod === undefined ? [] : [`  largest pod ${largestPod.name}: ${formatCpu(largestPod.cpuMillis)} CPU, ${formatMemory(largestPod.memoryBytes)}`]),
    `  Kubernetes ${kubernetes === undefined ? 'versions not recorded (no curated bundle spec)' : `${kubernetes.min} to ${kubernetes.max}`}`,
    ...(defaultClassClaims.length === 0 ? [] : [`  a default StorageClass for ${defaultClassClaims.length} claim${defaultClassClaims.length === 1 ? '' : 's'}: ${defaultClassClaims.join(', ')}`]),
  ];
}

function platformLines(summary: BundleSummary): string[] {
  const others = summary.otherPlatforms.map((other) => `  but ${other.ref} is ${other.platform} only${other.forPlatform === undefined ? '' : ` (in ${other.forPlatform})`}`);
  if (summary.platforms.length === 0) {
    const platform = summary.platform ?? 'not recorded (built before kfbundle recorded it)';
    return [`platform   ${platform}${summary.platform === null ? '' : ': install.sh loads it only on nodes of this architecture'}`, ...others];
  }
  const { upstream, composed } = summary.indexes;
  return [
    `platforms  ${summary.platforms.map((p) => p.platform).join(', ')}: install.sh loads on each node its architecture's images; pushed, each tag names an index of them all`,
    ...summary.platforms.map((p) => `  ${p.platform.padEnd(14)} ${String(p.images).padStart(4)} images  ${formatBytes(p.bytes).padStart(9)} in ${p.archives} archive${p.archives === 1 ? '' : 's'} under ${p.dir}/`),
    ...others,
    ...(upstream + composed === 0 ? [] : [`indexes    ${upstream} kept as upstream serves them, ${composed} composed of the bundle's platforms (a digest of their own)`]),
  ];
}

/** `perPlatform`: a bundle of several platforms, whose nodes each load their own platform's archives. */
function archiveLines(all: BundleSummary['archives'], perPlatform: boolean): string[] {
  const where = (archive: BundleSummary['archives'][number]) =>
    `${archive.path}${archive.partSize === null ? '' : ` in ${archive.parts} parts of at most ${formatBytes(archive.partSize)}`}`;
  const seed = all.filter((archive) => archive.stage === SEED_REGISTRY_STAGE).map((archive) => `seed       ${formatBytes(archive.bytes)} in ${where(archive)}: the registry install.sh --seed-registry runs`);
  const archives = all.filter((archive) => archive.stage !== SEED_REGISTRY_STAGE);
  if (archives.length === 0) return seed;
  if (archives.length === 1) return [`archive    ${formatBytes(archives[0]!.bytes)} in ${where(archives[0]!)}`, ...seed];
  const total = archives.reduce((sum, archive) => sum + archive.bytes, 0);
  const stages = new Set(archives.map((archive) => archive.stage)).size;
  const how = perPlatform
    ? ', of which a node loads its platform\'s'
    : stages === 1
      ? 'that install.sh loads at once'
      : `, loaded in ${stages} stages (each stage's at once)`;
  return [
    `archives   ${formatBytes(total)} in ${archives.length} archives${stages === 1 && !perPlatform ? ' ' : ''}${how}`,
    ...archives.map((archive) => `  stage ${archive.stage}  ${formatBytes(archive.bytes).padStart(9)}  ${String(archive.images).padStart(3)} images  ${where(archive)}`),
    ...seed,
  ];
}
