// Picks the credentials for a registry out of a Docker client config (~/.docker/config.json), as `docker pull` does.

import { DOCKER_HUB } from './image-ref.js';
import { isRecord } from './k8s-object.js';

export interface RegistryCredentials {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress: string;
}

// Docker Hub credentials are stored under the legacy index URL.
const DOCKER_HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

function keyMatchesRegistry(key: string, registry: string): boolean {
  const host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === registry;
}

/**
 * Credentials for a registry host from the `auths` section of a Docker config; credential helpers are not consulted.
 * Returns undefined when none are stored, which means an anonymous pull.
 */
export function credentialsFor(config: unknown, registry: string): RegistryCredentials | undefined {
  if (!isRecord(config) || !isRecord(config['auths'])) return undefined;
  const auths = config['auths'];
  const keys = registry === DOCKER_HUB ? DOCKER_HUB_KEYS : Object.keys(auths).filter((key) => keyMatchesRegistry(key, registry));
  for (const key of keys) {
    const entry = auths[key];
    if (!isRecord(entry)) continue;
    const serveraddress = registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
    if (typeof entry['identitytoken'] === 'string') return { identitytoken: entry['identitytoken'], serveraddress };
    if (typeof entry['auth'] === 'string') {
      const decoded = Buffer.from(entry['auth'], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress };
    }
    if (typeof entry['username'] === 'string' && typeof entry['password'] === 'string') {
      return { username: entry['username'], password: entry['password'], serveraddress };
    }
  }
  return undefined;
}
