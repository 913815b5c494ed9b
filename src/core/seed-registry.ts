// The registry `install.sh --seed-registry` runs inside the cluster: its image travels in every bundle, in an archive
// of its own, so the one node that hosts it loads a few megabytes before the rest of the bundle is pushed into it.

/**
 * CNCF Distribution 2.8.3, the multi-platform index Docker Hub serves (the bundle holds the build platform's image):
 * pinned by digest, so a bundle built next year carries the same registry the installer was tested with.
 */
export const DEFAULT_SEED_REGISTRY_IMAGE =
  'docker.io/library/registry:2.8.3@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373';

/** The tier of that image in bundle.json: not the release's, so never counted among its images. */
export const SEED_TIER = 'seed' as const;
