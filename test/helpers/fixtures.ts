// The real Kubeflow releases in ../shared/fixtures/kubeflow (read only; never copied into the repo).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const KUBEFLOW_FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/kubeflow/', import.meta.url));
export const RELEASES = ['26.03', 'v1.11.0', 'v1.10.2'] as const;
export type Release = (typeof RELEASES)[number];

export function renderedPath(release: Release): string {
  return `${KUBEFLOW_FIXTURES}${release}/rendered.yaml`;
}

export function readRendered(release: Release): Promise<string> {
  return readFile(renderedPath(release), 'utf8');
}
