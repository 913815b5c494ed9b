// `kfbundle images`: every image a release needs, its tier, and each place it was found.

import type { ImageTier } from '../../core/discover-images.js';
import { KfbundleError } from '../../core/errors.js';
import { formatImageRef, parseImageRef, type ImageRef } from '../../core/image-ref.js';
import { parseMirror } from '../../core/mirrors.js';
import type { Platform } from '../../core/registry-image.js';
import { formatPlatform } from '../../core/registry-manifest.js';
import { checkPlatforms, type PlatformCheck } from '../../app/check-platforms.js';
import { registryClientFor } from '../registry-client-for.js';
import { platformsOption } from '../platform-option.js';
import { parseTiers } from '../../core/resolve-images.js';
import { describeComponents, describeWarning, resolveRelease } from '../../core/resolve-release.js';
import { resolveManifestInput } from '../manifest-input.js';
import { writeJson, type CliContext } from '../context.js';

export interface ImagesCommandOptions {
  manifests: string | undefined;
  release: string | undefined;
  releaseUrl: string | undefined;
  spec: string | undefined;
  tiers: string | undefined;
  json: boolean;
  why: string | undefined;
  platform: string | undefined;
  mirror: string[];
  insecureRegistry: string[];
  cache: string | undefined;
}

function describeCheck(check: PlatformCheck, platform: string): string {
  switch (check.status) {
    case 'offered':
      return `${platform} offered`;
    case 'other-platform':
      return `${check.platform} only: its pods fail on ${platform} nodes with "exec format error"`;
    case 'not-offered':
      return `${platform} NOT OFFERED: ${check.message}`;
    case 'unknown':
      return `${platform} not known: ${check.message}`;
  }
}

/**
 * The JSON fields of an image's platform answers, each without the reference the image already names: `platform` for
 * one platform asked about, `platforms` (with each one's name) for several.
 */
function platformFields(answers: readonly { platform: string; check: PlatformCheck | undefined }[]): { platform?: Omit<PlatformCheck, 'ref'>; platforms?: (Omit<PlatformCheck, 'ref'> & { for: string })[] } {
  const known = answers.flatMap(({ platform, check }) => {
    if (check === undefined) return [];
    const { ref: _ref, ...answer } = check;
    return [{ for: platform, ...answer }];
  });
  if (known.length === 0) return {};
  if (answers.length === 1) {
    const { for: _for, ...answer } = known[0]!;
    return { platform: answer };
  }
  return { platforms: known };
}

interface PlatformAnswers {
  platform: Platform;
  checks: Map<string, PlatformCheck>;
}

/** With --platform: each bundled image's answer for each platform, asked of the registries (through --mirror, like a build). */
async function platformChecks(options: ImagesCommandOptions, refs: readonly ImageRef[], context: CliContext): Promise<PlatformAnswers[]> {
  if (options.platform === undefined) return [];
  const platforms = platformsOption(options.platform, process.arch);
  const mirrors = options.mirror.flatMap(parseMirror);
  const client = await registryClientFor({ cache: options.cache, insecureRegistry: options.insecureRegistry, concurrency: 4 }, context, (message) => context.stderr.write(`warning: ${message}\n`));
  try {
    const answers: PlatformAnswers[] = [];
    for (const platform of platforms) {
      const checks = await checkPlatforms(refs, platform, { mirrors, concurrency: 8 }, { resolve: (ref, wanted) => client.resolve(ref, wanted, context.signal) });
      answers.push({ platform, checks: new Map(checks.map((check) => [check.ref, check])) });
    }
    return answers;
  } finally {
    client.close();
  }
}

export function tiersOption(text: string | undefined): ImageTier[] | undefined {
  if (text === undefined) return undefined;
  const tiers = parseTiers(text);
  if (tiers === undefined) {
    throw new KfbundleError('USAGE', `invalid --tiers "${text}"`, { hint: 'a comma-separated list of install, runtime, catalog, conditional, example; or all' });
  }
  return tiers;
}

export async function runImages(options: ImagesCommandOptions, context: CliContext): Promise<number> {
  const tiers = tiersOption(options.tiers);
  const { source, input, spec, notice } = await resolveManifestInput(options, context.signal, false, context.env);
  if (notice !== undefined) context.stderr.write(`note: ${notice}\n`);
  const rendered = await source.render(input);
  const { resolution, components } = resolveRelease(rendered.text, rendered.description, spec, tiers);
  // Without a curated spec, the component table is all that stands behind the images: say what it knew.
  if (spec === undefined && !options.json) for (const line of describeComponents(components)) context.stderr.write(`note: ${line}\n`);
  const matches = (ref: string) => options.why === undefined || ref === options.why || ref.includes(options.why);
  const images = resolution.images.filter((image) => matches(image.ref));
  const platformed = await platformChecks(options, images.filter((image) => image.included).map((image) => image.pullFrom ?? parseImageRef(image.ref)), context);
  const answersOf = (image: (typeof images)[number]) =>
    platformed.map(({ platform, checks }) => ({ platform: formatPlatform(platform), check: checks.get(formatImageRef(image.pullFrom ?? parseImageRef(image.ref))) }));

  if (options.json) {
    writeJson(context, {
      tiers: resolution.tiers,
      images: images.map((image) => ({
        ref: image.ref,
        tier: image.tier,
        included: image.included,
        ...(image.pullFrom === undefined ? {} : { pullFrom: formatImageRef(image.pullFrom) }),
        ...(image.why === undefined ? {} : { why: image.why }),
        ...platformFields(answersOf(image)),
        locations: image.locations.map((l) => ({ object: l.object, path: l.path, via: l.via, ...(l.upstream === undefined ? {} : { upstream: l.upstream }) })),
      })),
      excluded: resolution.excluded,
      warnings: resolution.warnings,
      components,
    });
  } else {
    for (const image of images) {
      const platformText = answersOf(image)
        .flatMap(({ platform, check }) => (check === undefined ? [] : [`\t${describeCheck(check, platform)}`]))
        .join('');
      context.stdout.write(`${image.ref}\t${image.tier}${image.included ? '' : '\t(not bundled)'}${platformText}\n`);
      if (options.why !== undefined) {
        for (const location of image.locations) {
          context.stdout.write(`  ${location.object}  ${location.path}  (${location.via})\n`);
          if (location.upstream !== undefined) context.stdout.write(`    ${location.via === 'compiled-in' ? 'compiled in' : 'replaces the default compiled in'}: ${location.upstream}\n`);
        }
        if (image.pullFrom !== undefined) context.stdout.write(`  pulled from ${formatImageRef(image.pullFrom)}\n`);
        if (image.why !== undefined) context.stdout.write(`  spec: ${image.why}\n`);
      }
    }
    for (const warning of resolution.warnings) {
      context.stderr.write(`warning: ${describeWarning(warning)}\n`);
    }
    if (options.why === undefined) {
      const counts = new Map<string, number>();
      for (const image of resolution.images) counts.set(image.tier, (counts.get(image.tier) ?? 0) + 1);
      const summary = [...counts].map(([tier, count]) => `${count} ${tier}`).join(', ');
      context.stderr.write(`${resolution.images.length} images (${summary}); bundled tiers: ${resolution.tiers.join(', ')}\n`);
    }
  }
  let incomplete = false;
  for (const { platform, checks } of platformed) {
    const wanted = formatPlatform(platform);
    const all = [...checks.values()];
    const lacking = all.filter((check) => check.status === 'not-offered' || check.status === 'other-platform');
    const unknown = all.filter((check) => check.status === 'unknown');
    if (!options.json) {
      if (lacking.length === 0 && unknown.length === 0) context.stderr.write(`every bundled image offers ${wanted}\n`);
      if (lacking.length > 0) context.stderr.write(`${lacking.length} of ${all.length} bundled images do not offer ${wanted}: ${lacking.map((check) => check.ref).join(', ')}\n`);
      if (unknown.length > 0) {
        context.stderr.write(`${unknown.length} of ${all.length} bundled images could not be asked for ${wanted} (no source answered; add --mirror for a blocked registry): ${unknown[0]!.message}\n`);
      }
    }
    // A bundle for these nodes would carry images they cannot run, or not build at all.
    if (lacking.length + unknown.length > 0) incomplete = true;
  }
  if (incomplete) return 5;
  if (options.why !== undefined && images.length === 0) {
    context.stderr.write(`no image matching "${options.why}" in ${rendered.description}\n`);
    return 3;
  }
  return 0;
}
