// Builds a bundle through the real use case and file writer, with a FakeImageStore instead of a Docker engine.

import { buildBundle, type BuildDeps, type BuildOptions, type BuildResult } from '../../src/app/build-bundle.js';
import { directoryBundleOutput } from '../../src/io/bundle-directory.js';
import { LocalManifestSource } from '../../src/io/manifest-source.js';
import { readInstallerTemplate } from '../../src/version.js';
import { FakeImageStore } from './fake-image-store.js';

/** Deps for buildBundle that need no engine, clock or network; override any of them. */
export async function fakeBuildDeps(overrides: Partial<BuildDeps> = {}): Promise<BuildDeps> {
  return {
    source: new LocalManifestSource(),
    store: new FakeImageStore(),
    output: directoryBundleOutput,
    installerTemplate: await readInstallerTemplate(),
    toolVersion: '0.0.0-test',
    credentials: () => undefined,
    sleep: async () => {},
    random: () => 0,
    now: () => 0,
    report: () => {},
    ...overrides,
  };
}

export async function buildWithFakeStore(
  manifests: string,
  outDir: string,
  options: { saveBytes?: number; build?: Partial<BuildOptions> } = {},
): Promise<BuildResult> {
  return buildBundle(
    { manifests, outDir, mirrors: [], force: false, concurrency: 4, attempts: 1, ...options.build },
    await fakeBuildDeps({ store: new FakeImageStore({ saveBytes: options.saveBytes ?? 10_000 }) }),
  );
}
