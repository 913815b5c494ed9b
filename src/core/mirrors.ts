// Registry mirrors: `--mirror gcr.io=127.0.0.1:5000/gcr.io` pulls `gcr.io/x` from `127.0.0.1:5000/gcr.io/x`.
// Builders inside China use public mirrors the same way; tests use it to reach a local registry under real names.

import { KfbundleError } from './errors.js';
import { DOCKER_HUB, imageName, parseImageRef, type ImageRef } from './image-ref.js';

export interface Mirror {
  /** Normalised `registry[/path]` prefix of the images it serves, e.g. `gcr.io`, `docker.io/library`. */
  source: string;
  /** `host[:port][/path]` that serves them. */
  target: string;
}

const DOCKER_HUB_ALIASES = ['index.docker.io', 'registry-1.docker.io'];

function normaliseSource(source: string): string {
  const trimmed = source.replace(/\/+$/, '');
  for (const alias of DOCKER_HUB_ALIASES) {
    if (trimmed === alias || trimmed.startsWith(`${alias}/`)) return DOCKER_HUB + trimmed.slice(alias.length);
  }
  return trimmed;
}

/**
 * Parses `SRC=DST`. SRC is a registry host, optionally with a path prefix; DST is where the same paths are served.
 * @throws KfbundleError MIRROR_INVALID naming the argument.
 */
export function parseMirror(spec: string): Mirror {
  const eq = spec.indexOf('=');
  const source = eq === -1 ? '' : normaliseSource(spec.slice(0, eq).trim());
  const target = eq === -1 ? '' : spec.slice(eq + 1).trim().replace(/\/+$/, '');
  if (source === '' || target === '' || /\s/.test(source + target) || target.includes('=')) {
    throw new KfbundleError('MIRROR_INVALID', `invalid --mirror "${spec}": expected SRC=DST`, {
      hint: 'for example --mirror gcr.io=127.0.0.1:5000/gcr.io or --mirror docker.io=docker.m.daocloud.io',
    });
  }
  // The mapped references must still parse; checking a sample here reports a bad mirror before any pull.
  try {
    parseImageRef(`${target}/probe:tag`);
  } catch {
    throw new KfbundleError('MIRROR_INVALID', `invalid --mirror "${spec}": "${target}" is not a registry address`);
  }
  return { source, target };
}

/** The mirror whose source is the longest prefix of the image's name, on path boundaries. */
export function findMirror(ref: ImageRef, mirrors: readonly Mirror[]): Mirror | undefined {
  const name = imageName(ref);
  let best: Mirror | undefined;
  for (const mirror of mirrors) {
    const matches = name === mirror.source || name.startsWith(`${mirror.source}/`);
    if (matches && (best === undefined || mirror.source.length > best.source.length)) best = mirror;
  }
  return best;
}

/** Rewrites a reference onto its mirror, keeping tag and digest; an image without a mirror is returned unchanged. */
export function mirrorRef(ref: ImageRef, mirrors: readonly Mirror[]): ImageRef {
  const mirror = findMirror(ref, mirrors);
  if (mirror === undefined) return ref;
  const rest = imageName(ref).slice(mirror.source.length);
  const mapped = parseImageRef(`${mirror.target}${rest}:tag`);
  return { ...mapped, tag: ref.tag, digest: ref.digest };
}
