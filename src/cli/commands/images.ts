// `kfbundle images`: lists the images a set of manifests needs and where each one is referenced.

import { collectInstallImages } from '../../core/install-images.js';
import { parseManifests } from '../../core/k8s-object.js';
import { LocalManifestSource } from '../../io/manifest-source.js';
import { writeJson, type CliContext } from '../context.js';

export interface ImagesCommandOptions {
  manifests: string;
  json: boolean;
  why: string | undefined;
}

export async function runImages(options: ImagesCommandOptions, context: CliContext): Promise<number> {
  const rendered = await new LocalManifestSource({ signal: context.signal }).render(options.manifests);
  const found = collectInstallImages(parseManifests(rendered.text, rendered.description));
  const images = found.map((image) => ({ ref: image.ref, tier: 'install' as const, locations: image.locations }));
  const selected = options.why === undefined ? images : images.filter((image) => image.ref === options.why || image.ref.includes(options.why!));
  if (options.json) {
    writeJson(context, { images: selected, warnings: [] });
    return 0;
  }
  for (const image of selected) {
    context.stdout.write(`${image.ref}\t${image.tier}\n`);
    if (options.why !== undefined) {
      for (const location of image.locations) context.stdout.write(`  ${location.object}  ${location.path}\n`);
    }
  }
  if (options.why !== undefined && selected.length === 0) {
    context.stderr.write(`no image matching "${options.why}" in ${rendered.description}\n`);
    return 3;
  }
  return 0;
}
