// Credentials for each registry from the Docker client config (DOCKER_CONFIG or ~/.docker), including credential
// helpers, asked once per registry per lookup object: a build asks for the same registry hundreds of times.

import type { RegistryCredentials } from '../core/docker-auth.js';
import { credentialSourceFor } from '../core/registry-credential-source.js';
import { runCredentialHelper } from './credential-helper.js';
import { readDockerConfig } from './docker-config.js';

/** `registry` as a reference names it: `docker.io`, `gcr.io`, `127.0.0.1:5000`. Undefined means anonymous. */
export type CredentialLookup = (registry: string) => Promise<RegistryCredentials | undefined>;

export interface DockerConfigCredentialOptions {
  env?: NodeJS.ProcessEnv;
  helperTimeoutMs?: number;
  /** Told when a configured helper is not installed, so its registry is tried anonymously. */
  onWarning?: (message: string) => void;
}

export function dockerConfigCredentials(options: DockerConfigCredentialOptions = {}): CredentialLookup {
  const env = options.env ?? process.env;
  let config: Promise<unknown> | undefined;
  const answers = new Map<string, Promise<RegistryCredentials | undefined>>();

  async function lookup(registry: string): Promise<RegistryCredentials | undefined> {
    config ??= readDockerConfig(env);
    const source = credentialSourceFor(await config, registry);
    if (source.kind === 'none') return undefined;
    if (source.kind === 'stored') return source.credentials;
    const helperOptions = options.helperTimeoutMs === undefined ? { env } : { env, timeoutMs: options.helperTimeoutMs };
    const answer = await runCredentialHelper(source.helper, source.serverUrl, helperOptions);
    if (answer.kind === 'found') return answer.credentials;
    if (answer.kind === 'missing') {
      options.onWarning?.(`docker-credential-${source.helper} (named in the Docker config for ${registry}) is not installed; pulling from ${registry} anonymously`);
    }
    return undefined;
  }

  return (registry) => {
    let answer = answers.get(registry);
    if (answer === undefined) {
      answer = lookup(registry);
      answers.set(registry, answer);
      // A failed lookup is not remembered: the next image may find the helper answering again.
      answer.catch(() => answers.delete(registry));
    }
    return answer;
  };
}
