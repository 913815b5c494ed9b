// What changes from one bundle (or release) to the next, for the team that plans an upgrade: images added, removed
// and changed, CRDs by their version lists, install phases, and what a delta bundle (`build --since`) would leave
// out. Pure: each side is read into a DiffSide first (cli/commands/diff.ts), from a bundle.json, a bundle directory or
// a rendered release; what a side does not know (a release has no digests, a bundle.json alone no CRDs) is null.

import { imageName, parseImageRef } from './image-ref.js';
import type { KubernetesObject } from './k8s-object.js';
import { isRecord } from './k8s-object.js';
import { byteOrder } from './byte-order.js';

export interface DiffImage {
  ref: string;
  tier: string;
  /** What the image is, by content: the repository digest the registry served, when known (bundles). */
  digest?: string | undefined;
  /** Uncompressed size, when known (bundles). */
  size?: number | undefined;
}

export interface DiffCrd {
  name: string;
  /** `spec.versions[].name`, in the CRD's order. */
  versions: string[];
}

export interface DiffSide {
  /** How the output names it: the bundle's directory, the bundle.json's path, or the release. */
  name: string;
  kind: 'bundle' | 'metadata' | 'release';
  images: DiffImage[];
  crds: DiffCrd[] | null;
  phases: { name: string; objects: number }[] | null;
  /**
   * Bundles built from registries (a directory with images/push.txt): every blob its archives hold, with its size,
   * and the layers its images name: what a delta built on the other side would leave out.
   */
  blobs: ReadonlyMap<string, number> | null;
  layers: ReadonlySet<string> | null;
}

export interface ImageChange {
  from: DiffImage;
  to: DiffImage;
  /** `tag`: the repository's reference moved; `content`: the same reference names other content. */
  why: 'tag' | 'content';
}

export interface BundleDiff {
  from: string;
  to: string;
  images: { added: DiffImage[]; removed: DiffImage[]; changed: ImageChange[]; unchanged: number };
  /** null when a side does not know its CRDs (a bundle.json alone). */
  crds: { added: DiffCrd[]; removed: DiffCrd[]; changed: { name: string; from: string[]; to: string[] }[] } | null;
  phases: { added: string[]; removed: string[]; changed: { name: string; from: number; to: number }[] } | null;
  /**
   * A delta of `to` on `from`: the bytes of `to`'s distinct blobs (images/push.txt, each once however many platforms
   * hold it), and of those a delta would leave out because `from` brought them. null unless `to` is a bundle directory
   * built from registries and `from` records its layers.
   */
  delta: { bytes: number; saved: number } | null;
}

const repositoryOf = (ref: string) => imageName(parseImageRef(ref));

/** A release's CRDs: each CustomResourceDefinition's name and its versions. */
export function crdsOf(objects: readonly KubernetesObject[]): DiffCrd[] {
  return objects
    .filter((object) => object.kind === 'CustomResourceDefinition')
    .map((object) => {
      const spec = isRecord(object['spec']) ? object['spec'] : {};
      const versions = Array.isArray(spec['versions']) ? spec['versions'].flatMap((version) => (isRecord(version) && typeof version['name'] === 'string' ? [version['name']] : [])) : [];
      return { name: object.metadata?.name ?? '', versions };
    })
    .filter((crd) => crd.name !== '')
    .sort((a, b) => byteOrder(a.name, b.name));
}

function diffImages(from: readonly DiffImage[], to: readonly DiffImage[]): BundleDiff['images'] {
  const before = new Map(from.map((image) => [image.ref, image] as const));
  const after = new Map(to.map((image) => [image.ref, image] as const));
  const changed: ImageChange[] = [];
  let unchanged = 0;
  for (const [ref, image] of after) {
    const old = before.get(ref);
    if (old === undefined) continue;
    if (old.digest !== undefined && image.digest !== undefined && old.digest !== image.digest) changed.push({ from: old, to: image, why: 'content' });
    else unchanged++;
  }
  // A reference on one side only: a repository's tag that moved when the other side has that repository.
  // In reference order, so the pairing does not depend on the order the sides list their images.
  const byRef = (a: DiffImage, b: DiffImage) => byteOrder(a.ref, b.ref);
  const gone = [...before.values()].filter((image) => !after.has(image.ref)).sort(byRef);
  const fresh = [...after.values()].filter((image) => !before.has(image.ref)).sort(byRef);
  const added: DiffImage[] = [];
  const paired = new Set<DiffImage>();
  for (const image of fresh) {
    const old = gone.find((candidate) => !paired.has(candidate) && repositoryOf(candidate.ref) === repositoryOf(image.ref));
    if (old === undefined) {
      added.push(image);
      continue;
    }
    paired.add(old);
    changed.push({ from: old, to: image, why: 'tag' });
  }
  const removed = gone.filter((image) => !paired.has(image));
  return { added: added.sort(byRef), removed: removed.sort(byRef), changed: changed.sort((a, b) => byteOrder(a.to.ref, b.to.ref)), unchanged };
}

function diffCrds(from: readonly DiffCrd[], to: readonly DiffCrd[]): NonNullable<BundleDiff['crds']> {
  const before = new Map(from.map((crd) => [crd.name, crd] as const));
  const after = new Map(to.map((crd) => [crd.name, crd] as const));
  const changed = [...after.values()]
    .filter((crd) => before.has(crd.name) && before.get(crd.name)!.versions.join(',') !== crd.versions.join(','))
    .map((crd) => ({ name: crd.name, from: before.get(crd.name)!.versions, to: crd.versions }));
  return { added: to.filter((crd) => !before.has(crd.name)), removed: from.filter((crd) => !after.has(crd.name)), changed };
}

function diffPhases(from: NonNullable<DiffSide['phases']>, to: NonNullable<DiffSide['phases']>): NonNullable<BundleDiff['phases']> {
  // Phases are named `NN-<label>`; their number moves when one is added before them, so they are matched by label.
  const label = (name: string) => name.replace(/^\d+-/, '');
  const before = new Map(from.map((phase) => [label(phase.name), phase] as const));
  const after = new Map(to.map((phase) => [label(phase.name), phase] as const));
  return {
    added: to.filter((phase) => !before.has(label(phase.name))).map((phase) => phase.name),
    removed: from.filter((phase) => !after.has(label(phase.name))).map((phase) => phase.name),
    changed: to
      .filter((phase) => before.has(label(phase.name)) && before.get(label(phase.name))!.objects !== phase.objects)
      .map((phase) => ({ name: phase.name, from: before.get(label(phase.name))!.objects, to: phase.objects })),
  };
}

export function diffSides(from: DiffSide, to: DiffSide): BundleDiff {
  let delta: BundleDiff['delta'] = null;
  if (to.blobs !== null && from.layers !== null) {
    let bytes = 0;
    let saved = 0;
    for (const [digest, size] of to.blobs) {
      bytes += size;
      if (from.layers.has(digest)) saved += size;
    }
    delta = { bytes, saved };
  }
  return {
    from: from.name,
    to: to.name,
    images: diffImages(from.images, to.images),
    crds: from.crds === null || to.crds === null ? null : diffCrds(from.crds, to.crds),
    phases: from.phases === null || to.phases === null ? null : diffPhases(from.phases, to.phases),
    delta,
  };
}
