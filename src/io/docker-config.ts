// Reads the Docker client config the way the docker CLI locates it (DOCKER_CONFIG, else ~/.docker).

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KfbundleError } from '../core/errors.js';
import { fileFault, isMissingFile } from './system-errors.js';

/**
 * The parsed config.json, or undefined when there is none. A config that cannot be read or is not JSON is an error:
 * ignored, it would turn into "access denied" from every private registry, far from its cause.
 */
export async function readDockerConfig(env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  const dir = env['DOCKER_CONFIG'] ?? join(homedir(), '.docker');
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isMissingFile(error)) return undefined;
    throw fileFault(error, { what: 'the Docker config', path, action: 'read' });
  }
  const hint = `fix or remove ${path} (docker login writes a new one), or point DOCKER_CONFIG at a directory with a valid config.json`;
  let config: unknown;
  try {
    config = JSON.parse(text) as unknown;
  } catch (error) {
    throw new KfbundleError('DOCKER_CONFIG_INVALID', `the Docker config ${path} is not valid JSON: ${(error as Error).message}`, { hint, cause: error });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new KfbundleError('DOCKER_CONFIG_INVALID', `the Docker config ${path} is not a JSON object`, { hint });
  }
  return config;
}
