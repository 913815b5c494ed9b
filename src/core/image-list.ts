// `build --image-list FILE`: one image reference a line, as a platform team keeps them (or as a leak watch prints
// them); blank lines and `#` comments are skipped. Each reference is checked here, naming the file and line.

import { KfbundleError } from './errors.js';
import { formatImageRef, parseImageRef } from './image-ref.js';
import type { AddedImage } from './resolve-images.js';

export function parseImageList(text: string, file: string): AddedImage[] {
  const images: AddedImage[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    images.push({ ref: normalisedRef(line, `${file} line ${index + 1}`), from: `${file} line ${index + 1}` });
  });
  return images;
}

/** `--image REF` and list lines: the reference normalised (`busybox` is docker.io/library/busybox:latest). */
export function normalisedRef(text: string, where: string): string {
  try {
    return formatImageRef(parseImageRef(text));
  } catch (error) {
    throw new KfbundleError('USAGE', `${where}: invalid image reference "${text}": ${(error as Error).message}`, { hint: 'e.g. docker.io/library/python:3.12 or ghcr.io/org/image@sha256:…' });
  }
}
