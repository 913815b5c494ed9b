// Where the Docker CLI would take a registry's credentials from: a per-registry helper (`credHelpers`), else the
// default store (`credsStore`), else the `auths` entries in the config itself. Running a helper is the io layer's job.

import { credentialsFor, type RegistryCredentials } from './docker-auth.js';
import { DOCKER_HUB } from './image-ref.js';
import { isRecord } from './k8s-object.js';

export type CredentialSource =
  | { kind: 'helper'; /** `docker-credential-<helper>` */ helper: string; /** What the helper is asked for on stdin. */ serverUrl: string }
  | { kind: 'stored'; credentials: RegistryCredentials }
  | { kind: 'none' };

/** The key Docker Hub's credentials live under, and the address its helpers are asked for. */
export const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function hostOf(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/.*$/, '').toLowerCase();
}

function keyNames(key: string, registry: string): boolean {
  const host = hostOf(key);
  return registry === DOCKER_HUB ? DOCKER_HUB_HOSTS.has(host) : host === registry.toLowerCase();
}

/**
 * The source for a registry (`docker.io` for Docker Hub, else `host[:port]` as the reference names it). A helper name
 * that could smuggle a path or option into the command is ignored, as if not configured.
 */
export function credentialSourceFor(config: unknown, registry: string): CredentialSource {
  const serverUrl = registry === DOCKER_HUB ? DOCKER_HUB_SERVER_URL : registry;
  if (isRecord(config)) {
    const helpers = config['credHelpers'];
    if (isRecord(helpers)) {
      for (const [key, helper] of Object.entries(helpers)) {
        if (keyNames(key, registry) && typeof helper === 'string' && HELPER_NAME.test(helper)) return { kind: 'helper', helper, serverUrl };
      }
    }
    const store = config['credsStore'];
    if (typeof store === 'string' && HELPER_NAME.test(store)) return { kind: 'helper', helper: store, serverUrl };
  }
  const credentials = credentialsFor(config, registry);
  return credentials === undefined ? { kind: 'none' } : { kind: 'stored', credentials };
}

/**
 * Credentials from a helper's `get` answer (`{"ServerURL","Username","Secret"}`). A Username of `<token>` marks the
 * Secret as an identity (refresh) token, as the helper protocol defines.
 */
export function credentialsFromHelperOutput(output: string, serverUrl: string): RegistryCredentials | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const username = parsed['Username'];
  const secret = parsed['Secret'];
  if (typeof secret !== 'string' || secret === '') return undefined;
  if (username === '<token>') return { identitytoken: secret, serveraddress: serverUrl };
  if (typeof username !== 'string' || username === '') return undefined;
  return { username, password: secret, serveraddress: serverUrl };
}

/** The helper's "not found" answer, which means "no credentials" rather than a failure. */
export function isHelperNotFound(output: string): boolean {
  return /credentials not found/i.test(output);
}
