// `kfbundle images`: every image a release needs, its tier, and each place it was found.

import type { ImageTier } from '../../core/discover-images.js';
import { KfbundleError } from '../../core/errors.js';
import { formatImageRef } from '../../core/image-ref.js';
import { parseTiers } from '../../core/resolve-images.js';
import { describeWarning, resolveRelease } from '../../core/resolve-release.js';
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
  const { source, input, spec } = await resolveManifestInput(options, context.signal, false, context.env);
  const rendered = await source.render(input);
  const { resolution } = resolveRelease(rendered.text, rendered.description, spec, tiers);
  const matches = (ref: string) => options.why === undefined || ref === options.why || ref.includes(options.why);
  const images = resolution.images.filter((image) => matches(image.ref));

  if (options.json) {
    writeJson(context, {
      tiers: resolution.tiers,
      images: images.map((image) => ({
        ref: image.ref,
        tier: image.tier,
        included: image.included,
        ...(image.pullFrom === undefined ? {} : { pullFrom: formatImageRef(image.pullFrom) }),
        ...(image.why === undefined ? {} : { why: image.why }),
        locations: image.locations.map((l) => ({ object: l.object, path: l.path, via: l.via })),
      })),
      excluded: resolution.excluded,
      warnings: resolution.warnings,
    });
  } else {
    for (const image of images) {
      context.stdout.write(`${image.ref}\t${image.tier}${image.included ? '' : '\t(not bundled)'}\n`);
      if (options.why !== undefined) {
        for (const location of image.locations) context.stdout.write(`  ${location.object}  ${location.path}  (${location.via})\n`);
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
  if (options.why !== undefined && images.length === 0) {
    context.stderr.write(`no image matching "${options.why}" in ${rendered.description}\n`);
    return 3;
  }
  return 0;
}
