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
 * Parses `SRC=DST[,DST…]`: SRC is a registry host, optionally with a path prefix; each DST serves the same paths and
 * is tried in the order given, before the origin.
 * @throws KfbundleError MIRROR_INVALID naming the argument.
 */
export function parseMirror(spec: string): Mirror[] {
  const eq = spec.indexOf('=');
  const targets = eq === -1 ? [''] : spec.slice(eq + 1).split(',');
  return targets.map((target) => parseSingleMirror(spec, eq === -1 ? spec : `${spec.slice(0, eq)}=${target}`));
}

function parseSingleMirror(argument: string, spec: string): Mirror {
  const eq = spec.indexOf('=');
  const source = eq === -1 ? '' : normaliseSource(spec.slice(0, eq).trim());
  const target = eq === -1 ? '' : spec.slice(eq + 1).trim().replace(/\/+$/, '');
  if (source === '' || target === '' || /\s/.test(source + target) || target.includes('=')) {
    throw new KfbundleError('MIRROR_INVALID', `invalid --mirror "${argument}": expected SRC=DST or SRC=DST1,DST2`, {
      hint: 'for example --mirror gcr.io=127.0.0.1:5000/gcr.io or --mirror docker.io=docker.m.daocloud.io',
    });
  }
  // The mapped references must still parse; checking a sample here reports a bad mirror before any pull.
  try {
    parseImageRef(`${target}/probe:tag`);
  } catch {
    throw new KfbundleError('MIRROR_INVALID', `invalid --mirror "${argument}": "${target}" is not a registry address`);
  }
  return { source, target };
}

/** The mirrors for the image: those whose source is the longest prefix of its name (on path boundaries), in order. */
export function findMirrors(ref: ImageRef, mirrors: readonly Mirror[]): Mirror[] {
  const name = imageName(ref);
  const matching = mirrors.filter((mirror) => name === mirror.source || name.startsWith(`${mirror.source}/`));
  const longest = Math.max(0, ...matching.map((mirror) => mirror.source.length));
  return matching.filter((mirror) => mirror.source.length === longest);
}

function onMirror(ref: ImageRef, mirror: Mirror): ImageRef {
  const rest = imageName(ref).slice(mirror.source.length);
  const mapped = parseImageRef(`${mirror.target}${rest}:tag`);
  return { ...mapped, tag: ref.tag, digest: ref.digest };
}

/** Where to pull the image from, in order: each of its mirrors (keeping tag and digest), then the origin itself. */
export function mirrorCandidates(ref: ImageRef, mirrors: readonly Mirror[]): ImageRef[] {
  return [...findMirrors(ref, mirrors).map((mirror) => onMirror(ref, mirror)), ref];
}

/** The first place to pull the image from: its first mirror, or the origin when it has none. */
export function mirrorRef(ref: ImageRef, mirrors: readonly Mirror[]): ImageRef {
  return mirrorCandidates(ref, mirrors)[0]!;
}
