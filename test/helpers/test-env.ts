// Attaches a test to the project's services: the ones the test command started (KFB_TEST_ENV), or its own.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Installing Debian's packages can take minutes on a fresh machine; starting and stopping the services takes seconds.
const INSTALL_LIMIT = { timeout: 600_000, killSignal: 'SIGKILL' } as const;
const SERVICE_LIMIT = { timeout: 180_000, killSignal: 'SIGKILL' } as const;
export const REPO_ROOT = new URL('../../', import.meta.url).pathname;
const SCRIPT = join(REPO_ROOT, 'scripts/test-env.sh');

export interface TestEnv {
  /** `unix://…` socket of the engine that builds bundles. */
  builderHost: string;
  /** `unix://…` socket of the engine that plays the isolated target. */
  targetHost: string;
  /** Socket of the standalone containerd that plays a containerd node (for `ctr --address`, CONTAINERD_ADDRESS). */
  containerdAddress: string;
  /** `127.0.0.1:PORT` of the local registry. */
  registry: string;
  /** `127.0.0.1:PORT` of a second registry, for mirror chains. */
  secondRegistry: string;
  /** Stops the services if this call started them. */
  release(): Promise<void>;
}

function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return values;
}

/**
 * Never skips: a test that needs Docker fails loudly when the services cannot be started.
 */
export async function useTestEnv(): Promise<TestEnv> {
  const shared = process.env['KFB_TEST_ENV'];
  const dir = shared ?? (await mkdtemp(join(tmpdir(), 'kfb-env-')));
  if (shared === undefined) {
    await run('bash', [SCRIPT, 'install'], INSTALL_LIMIT);
    await run('bash', [SCRIPT, 'start', dir], SERVICE_LIMIT);
  }
  const values = parseEnvFile(await readFile(join(dir, 'env'), 'utf8'));
  const need = (key: string): string => {
    const value = values[key];
    if (value === undefined) throw new Error(`${dir}/env lacks ${key}`);
    return value;
  };
  return {
    builderHost: need('KFB_BUILDER_HOST'),
    targetHost: need('KFB_TARGET_HOST'),
    containerdAddress: need('KFB_CONTAINERD_ADDRESS'),
    registry: need('KFB_REGISTRY'),
    secondRegistry: need('KFB_SECOND_REGISTRY'),
    async release() {
      if (shared === undefined) await run('bash', [SCRIPT, 'stop', dir], SERVICE_LIMIT);
    },
  };
}

/**
 * uvu counts a failing before/after hook against the suite but prints nothing about it; this prints the cause.
 */
export function loudHook<T>(name: string, hook: (context: T) => Promise<void>): (context: T) => Promise<void> {
  return async (context) => {
    try {
      await hook(context);
    } catch (error) {
      console.error(`${name} failed:`, error);
      throw error;
    }
  };
}
