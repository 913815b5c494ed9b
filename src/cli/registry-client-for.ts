// The registry client the commands that ask registries share (build, images --platform): the blob cache, the user's
// Docker credentials and the registries they named as plain HTTP or self-signed.

import { BlobCache, defaultCacheDir } from '../io/blob-cache.js';
import { RegistryClient } from '../io/registry-client.js';
import { dockerConfigCredentials } from '../io/registry-credentials.js';
import type { CliContext } from './context.js';

export interface RegistryClientOptions {
  cache: string | undefined;
  insecureRegistry: string[];
  concurrency: number;
}

export async function registryClientFor(options: RegistryClientOptions, context: CliContext, warn: (message: string) => void): Promise<RegistryClient> {
  const cache = new BlobCache(options.cache ?? defaultCacheDir(context.env));
  // Before any download: a cache that cannot be written is the user's to fix, and no registry can help with it.
  await cache.ensureWritable();
  return new RegistryClient({
    cache,
    credentials: dockerConfigCredentials({ env: context.env, onWarning: warn }),
    insecureRegistries: options.insecureRegistry,
    concurrency: Math.max(4, options.concurrency * 2),
    // The pull around each image retries as --attempts says; a request is retried here only for what the registry
    // itself asks (Retry-After) and for dropped connections, so one failing registry does not cost attempts squared.
    attempts: 2,
  });
}
