// `kfbundle diff A B`: what changes from A to B, each a bundle directory, a bundle.json, or a release (a rendered
// YAML file, a kustomization directory, or a supported release's tag). Reads each side into a DiffSide here, at the
// edge; core/bundle-diff.ts compares them.

import { stat } from 'node:fs/promises';
import { BUNDLE_FILES, parsePushBlobs, unreadableFormat, type BundleMetadata } from '../../core/bundle-layout.js';
import { crdsOf, diffSides, type BundleDiff, type DiffSide } from '../../core/bundle-diff.js';
import { KfbundleError } from '../../core/errors.js';
import { planInstall } from '../../core/install-plan.js';
import { parseManifests } from '../../core/k8s-object.js';
import { resolveRelease } from '../../core/resolve-release.js';
import { SEED_TIER } from '../../core/seed-registry.js';
import { DirectoryBundleReader, readBundleMetadata } from '../../io/bundle-reader.js';
import { formatBytes } from '../../ui/format.js';
import { resolveManifestInput } from '../manifest-input.js';
import { writeJson, type CliContext } from '../context.js';

export interface DiffCommandOptions {
  json: boolean;
  releaseUrl: string | undefined;
}

function metadataSide(name: string, kind: DiffSide['kind'], text: string): { side: DiffSide; metadata: BundleMetadata } {
  let metadata: BundleMetadata;
  try {
    metadata = JSON.parse(text) as BundleMetadata;
  } catch (error) {
    throw new KfbundleError('USAGE', `${name}: not valid JSON (${(error as Error).message})`, { hint: 'give a bundle directory, its bundle.json, or a release' });
  }
  if (!Array.isArray(metadata.images)) throw new KfbundleError('USAGE', `${name}: not a kfbundle bundle.json (no images)`, { hint: 'give a bundle directory, its bundle.json, or a release' });
  const unreadable = unreadableFormat(metadata.formatVersion, metadata.tool?.version);
  if (unreadable !== undefined) throw new KfbundleError('BUNDLE_FORMAT', `${name}: ${unreadable}`);
  // A bundle of several platforms lists each image once per platform: the first one stands for it.
  const images = new Map<string, DiffSide['images'][number]>();
  for (const image of metadata.images) {
    if (image.tier === SEED_TIER || images.has(image.ref)) continue;
    images.set(image.ref, { ref: image.ref, tier: image.tier, digest: image.digest, size: image.size });
  }
  const layers = metadata.images.some((image) => image.layers !== undefined) ? new Set(metadata.images.flatMap((image) => image.layers ?? [])) : null;
  const phases = metadata.plan?.phases.map((phase) => ({ name: phase.name, objects: phase.objects })) ?? null;
  return { side: { name, kind, images: [...images.values()], crds: null, phases, blobs: null, layers }, metadata };
}

async function bundleDirectorySide(path: string, text: string): Promise<DiffSide> {
  const reader = new DirectoryBundleReader(path);
  const { side, metadata } = metadataSide(path, 'bundle', text);
  const manifests = await Promise.all((metadata.plan?.phases ?? []).map(async (phase) => (await reader.readText(phase.file)) ?? ''));
  const push = await reader.readText(BUNDLE_FILES.imagePush);
  const blobs = push === undefined ? null : parsePushBlobs(push);
  // A bundle from before layers were recorded: its archives' blobs say which layers it brought.
  const layers = side.layers ?? (blobs === null ? null : new Set(blobs.keys()));
  return { ...side, crds: crdsOf(parseManifests(manifests.join('---\n'), path)), blobs, layers };
}

async function releaseSide(arg: string, options: DiffCommandOptions, context: CliContext, isPath: boolean): Promise<DiffSide> {
  const { source, input, spec, notice } = await resolveManifestInput(isPath ? { manifests: arg } : { release: arg, releaseUrl: options.releaseUrl }, context.signal, false, context.env);
  if (notice !== undefined) context.stderr.write(`note: ${notice}\n`);
  const rendered = await source.render(input);
  const release = resolveRelease(rendered.text, rendered.description, spec);
  const images = release.resolution.images.filter((image) => image.included).map((image) => ({ ref: image.ref, tier: image.tier }));
  const phases = planInstall(release.objects).phases.map((phase) => ({ name: phase.name, objects: phase.objects.length }));
  return { name: isPath ? arg : rendered.description, kind: 'release', images, crds: crdsOf(release.objects), phases, blobs: null, layers: null };
}

async function readSide(arg: string, options: DiffCommandOptions, context: CliContext): Promise<DiffSide> {
  const info = await stat(arg).catch(() => undefined);
  // A directory without a bundle.json is a kustomization; a file is a bundle.json only by its name.
  const bundle = info?.isDirectory() === true || arg.endsWith('.json') ? await readBundleMetadata(arg) : undefined;
  if (bundle?.directory !== undefined) return bundleDirectorySide(bundle.directory, bundle.text);
  if (bundle !== undefined) return metadataSide(arg, 'metadata', bundle.text).side;
  if (info === undefined && /[/\\]|\.(ya?ml|json)$/.test(arg)) {
    throw new KfbundleError('USAGE', `${arg}: no such file or directory`, { hint: 'give a bundle directory, its bundle.json, a rendered YAML file, a kustomization directory, or a release tag such as v1.11.0' });
  }
  return releaseSide(arg, options, context, info !== undefined);
}

const sized = (size: number | undefined) => (size === undefined ? '' : `  ${formatBytes(size)}`);

function describeDiff(diff: BundleDiff): string[] {
  const { images, crds, phases, delta } = diff;
  const lines = [`from ${diff.from}`, `to   ${diff.to}`, `images     ${images.added.length} added, ${images.removed.length} removed, ${images.changed.length} changed, ${images.unchanged} unchanged`];
  lines.push(...images.added.map((image) => `  + ${image.ref}  (${image.tier})${sized(image.size)}`));
  lines.push(...images.removed.map((image) => `  - ${image.ref}  (${image.tier})${sized(image.size)}`));
  lines.push(
    ...images.changed.map((change) =>
      change.why === 'tag'
        ? `  ~ ${change.from.ref} -> ${change.to.ref.slice(change.to.ref.lastIndexOf(':') + 1)}${sized(change.from.size)}${change.to.size === undefined ? '' : ` -> ${formatBytes(change.to.size)}`}`
        : `  ~ ${change.to.ref}: other content (${change.from.digest} -> ${change.to.digest})`,
    ),
  );
  if (crds === null) lines.push('crds       not known (a bundle.json alone holds no manifests: give the bundle directory or the release)');
  else {
    lines.push(`crds       ${crds.added.length} added, ${crds.removed.length} removed, ${crds.changed.length} changed`);
    lines.push(...crds.added.map((crd) => `  + ${crd.name}  (${crd.versions.join(', ')})`));
    lines.push(...crds.removed.map((crd) => `  - ${crd.name}  (${crd.versions.join(', ')})`));
    lines.push(...crds.changed.map((crd) => `  ~ ${crd.name}  versions ${crd.from.join(', ')} -> ${crd.to.join(', ')}`));
  }
  if (phases !== null) {
    lines.push(`phases     ${phases.added.length} added, ${phases.removed.length} removed, ${phases.changed.length} changed`);
    lines.push(...phases.added.map((name) => `  + ${name}`), ...phases.removed.map((name) => `  - ${name}`));
    lines.push(...phases.changed.map((phase) => `  ~ ${phase.name}  ${phase.from} -> ${phase.to} objects`));
  }
  if (delta !== null) {
    lines.push(`delta      a delta of the second on the first (kfbundle build --since) leaves out ${formatBytes(delta.saved)} of ${formatBytes(delta.bytes)} of image blobs`);
  }
  return lines;
}

export async function runDiff(from: string, to: string, options: DiffCommandOptions, context: CliContext): Promise<number> {
  const diff = diffSides(await readSide(from, options, context), await readSide(to, options, context));
  if (options.json) writeJson(context, diff);
  else context.stdout.write(`${describeDiff(diff).join('\n')}\n`);
  return 0;
}
