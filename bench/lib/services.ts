// The project's services for one benchmark: scripts/test-env.sh's builder and target engines and registry, started
// under a temp directory of the benchmark's own (so that it measures no one else's load and leaves nothing behind),
// stopped and removed when it ends, fails, or runs past its whole-benchmark limit.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Commands } from './measure.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

export interface BenchServices {
  /** The benchmark's temp directory, removed at the end: bundles, archives and manifests go here. */
  work: string;
  /** Where test-env.sh keeps the services' state (the engines' data roots among it). */
  envDir: string;
  builderHost: string;
  targetHost: string;
  registry: string;
  builder: Docker;
  target: Docker;
  /** The built CLI (`npm run build`), as users run it. */
  kfbundle: string;
}

/**
 * Runs `body` with the services up. With `wholeMs`, a benchmark still running after it is stopped (exit 2) with its
 * services, instead of holding the machine's engines for ever.
 */
export async function withServices(
  options: { tempPrefix: string; commands: Commands; wholeMs?: number },
  body: (services: BenchServices) => Promise<void>,
): Promise<void> {
  const { commands, wholeMs } = options;
  const testEnv = join(ROOT, 'scripts/test-env.sh');
  const work = await mkdtemp(join(tmpdir(), options.tempPrefix));
  const envDir = join(work, 'env');
  const watchdog = wholeMs === undefined ? undefined : setTimeout(() => {
    console.error(`benchmark still running after ${wholeMs / 60_000} min: stopping`);
    void commands.run('bash', [testEnv, 'stop', envDir]).finally(() => rm(work, { recursive: true, force: true }).finally(() => process.exit(2)));
  }, wholeMs);
  watchdog?.unref();
  await commands.run('bash', [testEnv, 'install']);
  await commands.run('bash', [testEnv, 'start', envDir]);
  try {
    const env = Object.fromEntries((await readFile(join(envDir, 'env'), 'utf8')).trim().split('\n').map((l) => l.split('=') as [string, string]));
    const builderHost = env['KFB_BUILDER_HOST']!;
    const targetHost = env['KFB_TARGET_HOST']!;
    await body({
      work,
      envDir,
      builderHost,
      targetHost,
      registry: env['KFB_REGISTRY']!,
      builder: new Docker({ socketPath: builderHost.slice(7) }),
      target: new Docker({ socketPath: targetHost.slice(7) }),
      kfbundle: join(ROOT, 'bin/kfbundle.js'),
    });
  } finally {
    clearTimeout(watchdog);
    await commands.run('bash', [testEnv, 'stop', envDir]);
    await rm(work, { recursive: true, force: true });
  }
}

export async function removeAllImages(docker: Docker): Promise<void> {
  for (const image of await docker.listImages()) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
}
