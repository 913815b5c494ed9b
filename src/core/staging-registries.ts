// Images a release names from a registry that holds builds before their release: Kubernetes' `k8s-staging-*`
// projects, and any `*-staging` / `staging-*` repository. Such a registry prunes what it holds, so the image may be
// gone when a team builds its bundle, or rebuilds it a year later. Kubernetes promotes what a staging project holds to
// registry.k8s.io under the project's name, which says where the released image is.

import { imageName, type ImageRef } from './image-ref.js';

export interface StagingImage {
  /** The released repository the convention names (no tag), when there is one. */
  releasedRepository?: string;
}

const K8S_STAGING = /^k8s-staging-(.+)$/;
const STAGING = /(^|[-_.])staging([-_.]|$)/;

/** Whether the reference names a staging registry, and where its released image is, when the convention says. */
export function stagingImage(ref: ImageRef): StagingImage | undefined {
  const segments = imageName(ref).split('/');
  const index = segments.findIndex((segment, i) => K8S_STAGING.test(segment) || (i > 0 || segment.includes('.')) && STAGING.test(segment));
  if (index === -1) return undefined;
  const project = K8S_STAGING.exec(segments[index]!)?.[1];
  if (project === undefined) return {};
  // The shared project `k8s-staging-images` holds each subproject under its own name, as registry.k8s.io does.
  const rest = project === 'images' ? segments.slice(index + 1) : [project, ...segments.slice(index + 1)];
  return rest.length === 0 ? {} : { releasedRepository: `registry.k8s.io/${rest.join('/')}` };
}
