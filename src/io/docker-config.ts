// Reads the Docker client config the way the docker CLI locates it (DOCKER_CONFIG, else ~/.docker).

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The parsed config.json, or undefined when there is none; a config that is not JSON is an error worth seeing. */
export async function readDockerConfig(env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  const dir = env['DOCKER_CONFIG'] ?? join(homedir(), '.docker');
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`Docker config ${path} is not valid JSON: ${(error as Error).message}`);
  }
}
