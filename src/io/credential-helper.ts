// Runs a Docker credential helper (`docker-credential-<name> get`, the server URL on stdin, JSON on stdout), the way
// the docker CLI does, with a timeout so a helper waiting on a keychain prompt cannot hang a build.

import { spawn } from 'node:child_process';
import type { RegistryCredentials } from '../core/docker-auth.js';
import { credentialsFromHelperOutput, isHelperNotFound } from '../core/registry-credential-source.js';
import { RegistryError } from '../core/registry-error.js';

export interface HelperOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export type HelperAnswer =
  | { kind: 'found'; credentials: RegistryCredentials }
  | { kind: 'not-found' }
  /** The helper program is not installed (a config copied from another machine, e.g. Docker Desktop's `desktop`). */
  | { kind: 'missing' };

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_OUTPUT_BYTES = 1024 * 1024;

/**
 * @throws RegistryError (denied) when the helper fails, times out or answers something unreadable, naming the helper.
 */
export function runCredentialHelper(helper: string, serverUrl: string, options: HelperOptions = {}): Promise<HelperAnswer> {
  const program = `docker-credential-${helper}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout ends a helper script together with what it started (which would otherwise
    // hold the pipes open).
    const child = spawn(program, ['get'], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MAX_OUTPUT_BYTES) into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    // A helper that exits before reading stdin makes the write fail with EPIPE; its exit status tells the story.
    child.stdin.on('error', () => {});
    child.stdin.end(serverUrl);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT') resolve({ kind: 'missing' });
      else reject(failure(`could not run ${program}: ${error.message}`, error));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(stdout).toString('utf8').trim();
      const err = Buffer.concat(stderr).toString('utf8').trim();
      if (timedOut) {
        reject(failure(`${program} get for ${serverUrl} did not answer within ${timeoutMs} ms`));
        return;
      }
      if (signal !== null) {
        reject(failure(`${program} get for ${serverUrl} was killed by ${signal}`));
        return;
      }
      if (code !== 0) {
        if (isHelperNotFound(out) || isHelperNotFound(err)) resolve({ kind: 'not-found' });
        else reject(failure(`${program} get for ${serverUrl} failed (exit ${code}): ${err || out || 'no output'}`));
        return;
      }
      const credentials = credentialsFromHelperOutput(out, serverUrl);
      if (credentials === undefined) reject(failure(`${program} get for ${serverUrl} answered without a username and secret`));
      else resolve({ kind: 'found', credentials });
    });
  });
}

function failure(message: string, cause?: unknown): RegistryError {
  return new RegistryError('denied', message, {
    hint: 'fix the credential helper, or remove it from credsStore/credHelpers in the Docker config to pull anonymously',
    cause,
  });
}
