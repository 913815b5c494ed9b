// Reads what a registry serves for a manifest: an image manifest (Docker schema 2 or OCI) or a list of them per
// platform (Docker manifest list or OCI index), and picks the platform's image from a list the way `docker pull` does.

import { isRecord } from './k8s-object.js';
import type { BlobDescriptor, Platform } from './registry-image.js';
import { MEDIA_TYPES } from './registry-paths.js';

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: IndexEntry[] }
  | { kind: 'image'; mediaType: string; config: BlobDescriptor; layers: BlobDescriptor[] };

export interface IndexEntry extends BlobDescriptor {
  platform: Platform | undefined;
}

export class ManifestFormatError extends Error {
  override name = 'ManifestFormatError';
}

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** `sha256:<hex>` or `sha512:<hex>`: the algorithms we can check as bytes stream. */
export function isSupportedDigest(digest: string): boolean {
  return DIGEST.test(digest);
}

export function digestAlgorithm(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);
const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const SCHEMA1_TYPES = new Set<string>([MEDIA_TYPES.dockerSchema1, MEDIA_TYPES.dockerSchema1Signed]);

/**
 * The media type of manifest JSON: its own `mediaType` field, else the shape (OCI makes the field optional), else the
 * Content-Type the registry sent. Lets a manifest cached by digest alone be served again with its type.
 */
export function manifestMediaType(json: unknown, contentType?: string): string | undefined {
  if (isRecord(json) && typeof json['mediaType'] === 'string' && json['mediaType'] !== '') return json['mediaType'];
  if (isRecord(json) && json['schemaVersion'] === 1) return MEDIA_TYPES.dockerSchema1Signed;
  if (isRecord(json) && Array.isArray(json['manifests'])) return MEDIA_TYPES.ociIndex;
  if (isRecord(json) && isRecord(json['config']) && Array.isArray(json['layers'])) return MEDIA_TYPES.ociManifest;
  const sent = contentType?.split(';')[0]?.trim();
  return sent === undefined || sent === '' ? undefined : sent;
}

function descriptor(value: unknown, what: string): BlobDescriptor {
  if (!isRecord(value)) throw new ManifestFormatError(`${what} is not an object`);
  const { digest, size, mediaType } = value;
  if (typeof digest !== 'string' || !isSupportedDigest(digest)) throw new ManifestFormatError(`${what} has no valid digest (${String(digest)})`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new ManifestFormatError(`${what} has no valid size`);
  return { digest, size, mediaType: typeof mediaType === 'string' ? mediaType : '' };
}

function platformOf(value: unknown): Platform | undefined {
  if (!isRecord(value) || typeof value['os'] !== 'string' || typeof value['architecture'] !== 'string') return undefined;
  const platform: Platform = { os: value['os'], architecture: value['architecture'] };
  if (typeof value['variant'] === 'string' && value['variant'] !== '') platform.variant = value['variant'];
  return platform;
}

/**
 * Parses manifest bytes.
 * @throws ManifestFormatError naming what is missing; for schema 1 manifests, which nothing current needs and whose
 * layers cannot be loaded as a `docker save` archive without conversion.
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ManifestFormatError(`manifest is not JSON: ${(error as Error).message}`);
  }
  const mediaType = manifestMediaType(json, contentType);
  if (mediaType !== undefined && SCHEMA1_TYPES.has(mediaType)) {
    throw new ManifestFormatError('registry serves only a Docker schema 1 manifest, which kfbundle does not read');
  }
  if (!isRecord(json)) throw new ManifestFormatError('manifest is not a JSON object');
  if (mediaType !== undefined && INDEX_TYPES.has(mediaType)) {
    const entries = json['manifests'];
    if (!Array.isArray(entries)) throw new ManifestFormatError('manifest list has no "manifests" array');
    const manifests = entries.map((entry, index) => ({ ...descriptor(entry, `manifests[${index}]`), platform: platformOf(isRecord(entry) ? entry['platform'] : undefined) }));
    return { kind: 'index', mediaType, manifests };
  }
  if (mediaType !== undefined && IMAGE_TYPES.has(mediaType)) {
    const layers = json['layers'];
    if (!Array.isArray(layers)) throw new ManifestFormatError('image manifest has no "layers" array');
    return {
      kind: 'image',
      mediaType,
      config: descriptor(json['config'], 'config'),
      layers: layers.map((layer, index) => descriptor(layer, `layers[${index}]`)),
    };
  }
  throw new ManifestFormatError(`unsupported manifest media type ${mediaType ?? '(none)'}`);
}

/** `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`. @throws Error on anything else */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => part === '' || !/^[a-z0-9._-]+$/i.test(part))) {
    throw new Error(`invalid platform "${text}": expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64`);
  }
  const platform: Platform = { os: parts[0]!.toLowerCase(), architecture: parts[1]!.toLowerCase() };
  if (parts[2] !== undefined) platform.variant = parts[2].toLowerCase();
  return platform;
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter((part) => part !== undefined).join('/');
}

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64' };

/** containerd's normalisation: aliases folded, arm64's default variant v8 and amd64's v1 made explicit as none. */
function normalise(platform: Platform): Platform {
  const architecture = ARCH_ALIASES[platform.architecture.toLowerCase()] ?? platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase();
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  const result: Platform = { os: platform.os.toLowerCase(), architecture };
  if (variant !== undefined) result.variant = variant;
  return result;
}

/**
 * The index entry for the platform: same OS and architecture, and the same variant once defaults are applied
 * (`linux/arm64` matches `linux/arm64/v8`). Entries without a platform, or for `unknown/unknown` (build attestations),
 * never match. The first match wins, as in `docker pull`.
 */
export function selectPlatform(manifests: readonly IndexEntry[], wanted: Platform): IndexEntry | undefined {
  return manifests.find((entry) => entry.platform !== undefined && samePlatform(entry.platform, wanted));
}

/** Whether two platforms are one once aliases and default variants are folded (`linux/arm64` is `linux/arm64/v8`). */
export function samePlatform(a: Platform, b: Platform): boolean {
  const [left, right] = [normalise(a), normalise(b)];
  return left.os === right.os && left.architecture === right.architecture && left.variant === right.variant;
}

/**
 * The images whose own platform is not `wanted`: single-platform images, which have nothing else to offer, and whose
 * pods fail on `wanted` nodes with "exec format error". Images that record no platform are not judged.
 */
export function imagesOfOtherPlatform<T extends { ref: string; platform?: string | undefined }>(images: readonly T[], wanted: Platform): (T & { platform: string })[] {
  return images.filter((image): image is T & { platform: string } => image.platform !== undefined && !samePlatform(parsePlatform(image.platform), wanted));
}

/** Node's names for machine architectures (`os.arch()`), mapped to the platforms images are built for. */
const NODE_ARCH: Record<string, Platform> = {
  x64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64' },
  arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
  ppc64: { os: 'linux', architecture: 'ppc64le' },
  s390x: { os: 'linux', architecture: 's390x' },
  riscv64: { os: 'linux', architecture: 'riscv64' },
  ia32: { os: 'linux', architecture: '386' },
};

/** The linux platform of a machine whose architecture Node names `arch`: what a build there pulls unless told otherwise. */
export function platformOfMachine(arch: string): Platform {
  return NODE_ARCH[arch] ?? DEFAULT_PLATFORM;
}

/** What an index offers, for a message that says why nothing matched. */
export function offeredPlatforms(manifests: readonly IndexEntry[]): string[] {
  return manifests.flatMap((entry) => (entry.platform === undefined || entry.platform.os === 'unknown' ? [] : [formatPlatform(entry.platform)]));
}

/** The platform an image config declares (`os`, `architecture`, `variant`), or undefined when it declares none. */
export function configPlatform(configBytes: Buffer): Platform | undefined {
  try {
    return platformOf(JSON.parse(configBytes.toString('utf8')));
  } catch {
    return undefined;
  }
}
