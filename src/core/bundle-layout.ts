// Every file name inside a bundle, and the shape of bundle.json. Readers and writers both take names from here.

import type { AwsPartition } from './aws-partition.js';
import type { DiscoveryWarning, ImageTier } from './discover-images.js';
import type { PlanWait } from './install-plan.js';

export const BUNDLE_FORMAT_VERSION = 1;

export const BUNDLE_FILES = {
  metadata: 'bundle.json',
  checksums: 'SHA256SUMS',
  /** Ed25519 signature over SHA256SUMS (raw 64 bytes); the only file SHA256SUMS cannot list. */
  signature: 'SHA256SUMS.sig',
  installer: 'install.sh',
  imagesDir: 'images',
  imagesTar: 'images/images.tar',
  /** Every reference images.tar holds, one per line, normalised: what install.sh checks after loading and pushes. */
  imageRefs: 'images/refs.txt',
  manifestsDir: 'manifests',
  /** The phases again, every image reference under the registry placeholder, for `install.sh --registry`. */
  registryManifestsDir: 'registry-manifests',
} as const;

/** `manifests/<phase>.yaml`: the objects of one install phase, applied in lexical order of phase names. */
export function phaseManifestPath(phase: string): string {
  return `${BUNDLE_FILES.manifestsDir}/${phase}.yaml`;
}

/** `manifests/<phase>.waits`: one wait per line, `<type>\t<namespace>\t<name>`, read by install.sh. */
export function phaseWaitsPath(phase: string): string {
  return `${BUNDLE_FILES.manifestsDir}/${phase}.waits`;
}

/** `registry-manifests/<phase>.yaml`: the phase with every image under REGISTRY_PLACEHOLDER; its waits are the phase's. */
export function registryPhaseManifestPath(phase: string): string {
  return `${BUNDLE_FILES.registryManifestsDir}/${phase}.yaml`;
}

export interface BundlePhase {
  name: string;
  file: string;
  objects: number;
  waits: PlanWait[];
  why: string;
}

export interface BundleImage {
  /** Normalised reference as the release names it. */
  ref: string;
  /** Why it is needed: install, runtime, catalog, conditional or example (docs/image-discovery.md). */
  tier: ImageTier;
  /** Reference stored in images.tar and used by the bundle's manifests (differs from `ref` for digest pins). */
  bundleRef: string;
  /** Reference actually pulled (a mirror's, when one served it). */
  pulledFrom: string;
  /** Repository digest the registry served (`sha256:…`); for digest pins, equal to the pinned digest. */
  digest: string | undefined;
  /** The pinned digest, present only for references pinned by digest. */
  pinnedDigest?: string;
  /** Engine image ID (config digest). */
  imageId: string;
  /** Uncompressed size in bytes as the engine reports it. */
  size: number;
  /** Where the manifests reference it. */
  locations: { object: string; path: string }[];
}

export interface BundleFile {
  path: string;
  size: number;
  sha256: string;
}

export interface BundleMetadata {
  formatVersion: number;
  tool: { name: 'kfbundle'; version: string };
  /**
   * SHA-256 of SHA256SUMS without its bundle.json line: ties this description to the exact content, so a
   * bundle.json moved from another bundle (or edited along with SHA256SUMS) is caught.
   */
  contentDigest: string;
  input: {
    kind: 'file' | 'kustomize' | 'release';
    /** Base name of the input, never an absolute path of the build machine. */
    name: string;
    /** SHA-256 of the rendered manifests as read, before patching. */
    renderedSha256: string;
    objects: number;
  };
  mirrors: { source: string; target: string }[];
  /** The bundle spec applied, if any, and the tiers bundled. */
  resolution: {
    spec: string | undefined;
    tiers: ImageTier[];
    /** Images found in tiers not bundled: what a user would still need from elsewhere. */
    notBundled: { ref: string; tier: ImageTier }[];
    excluded: { ref: string; why: string }[];
    warnings: DiscoveryWarning[];
  };
  images: BundleImage[];
  /**
   * The image archive: one `images/images.tar`, or with `--split-size` the parts `images/images.tar.0000`, … whose
   * concatenation in name order is the archive. Absent when there are no images.
   */
  imagesArchive: { parts: string[]; size: number; sha256: string; partSize: number | undefined } | undefined;
  manifests: {
    /** Edits made to the release's objects: pull policies and digest-pin references. */
    changes: number;
    /** The AWS partition ARNs were moved to (`--aws-partition`), and how many objects that changed. */
    awsPartition?: { partition: AwsPartition; objects: number };
  };
  /** How the manifests move to a private registry (docs/bundle-format.md). */
  relocation: {
    /** Host name standing for the registry in registry-manifests/. */
    placeholder: string;
    /** The registry `build --registry` relocated manifests/ to; install.sh then pushes there by default. */
    registry: string | undefined;
    /** Objects whose references moved. */
    objects: number;
    /** References the resolver still finds outside the registry after relocation (none, unless a reference is unusual). */
    leftovers: { ref: string; locations: { object: string; path: string }[] }[];
  };
  /** Install phases in order; install.sh applies them and waits as listed. */
  plan: { phases: BundlePhase[]; warnings: string[] };
  /** Every file the bundle ships except bundle.json and SHA256SUMS themselves. */
  files: BundleFile[];
}
