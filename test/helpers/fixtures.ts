// The real Kubeflow releases in ../shared/fixtures/kubeflow (read only; never copied into the repo).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const KUBEFLOW_FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/kubeflow/', import.meta.url));
export const RELEASES = ['26.03', 'v1.11.0', 'v1.10.2'] as const;
export type Release = (typeof RELEASES)[number];
/** With v1.8.1, the older layout no curated spec covers: what discovery alone must get right. */
export const ALL_RELEASES = [...RELEASES, 'v1.8.1'] as const;
export type AnyRelease = (typeof ALL_RELEASES)[number];

export function renderedPath(release: AnyRelease): string {
  return `${KUBEFLOW_FIXTURES}${release}/rendered.yaml`;
}

export function readRendered(release: AnyRelease): Promise<string> {
  return readFile(renderedPath(release), 'utf8');
}
