// Turns `--manifests` into rendered YAML: a file is read as it is; a kustomization directory is rendered with
// `kustomize build`, or `kubectl kustomize` where no standalone kustomize is installed.

import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { KfbundleError } from '../core/errors.js';
import type { ManifestSource, RenderedManifests } from '../app/ports.js';
import { fileFault, isMissingFile } from './system-errors.js';

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

interface CommandResult {
  code: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError?: NodeJS.ErrnoException;
}

function run(command: string, args: string[], signal?: AbortSignal): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ code: null, stdout: '', stderr: '', spawnError: error }));
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') }),
    );
  });
}

/** Whether the file is there; a directory that cannot be read is an error, not an absent kustomization. */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: unknown) => {
      if (isMissingFile(error)) return false;
      throw fileFault(error, { what: 'the kustomization', path, action: 'read' });
    },
  );
}

export interface LocalManifestSourceOptions {
  signal?: AbortSignal;
}

export class LocalManifestSource implements ManifestSource {
  private readonly signal: AbortSignal | undefined;

  constructor(options: LocalManifestSourceOptions = {}) {
    this.signal = options.signal;
  }

  async render(input: string): Promise<RenderedManifests> {
    const missingHint = 'pass a rendered YAML file or a directory with a kustomization.yaml';
    const info = await stat(input).catch((error: unknown) => {
      if (isMissingFile(error)) throw new KfbundleError('INPUT_NOT_FOUND', `manifests not found: "${input}"`, { hint: missingHint, cause: error });
      throw fileFault(error, { what: 'the manifests', path: input, action: 'read' });
    });
    if (info.isFile()) {
      const text = await readFile(input, 'utf8').catch((error: unknown) => {
        throw fileFault(error, { what: 'the manifests', path: input, action: 'read', missingHint });
      });
      return { text, kind: 'file', description: basename(input) };
    }
    let hasKustomization = false;
    for (const name of KUSTOMIZATION_FILES) if (await exists(join(input, name))) hasKustomization = true;
    if (!hasKustomization) {
      throw new KfbundleError('INPUT_NOT_FOUND', `"${input}" is a directory without a kustomization.yaml`, {
        hint: 'point --manifests at the kustomization to render, e.g. manifests/example',
      });
    }
    return { text: await this.kustomize(input), kind: 'kustomize', description: `kustomize build ${basename(input)}` };
  }

  private async kustomize(dir: string): Promise<string> {
    let result = await run('kustomize', ['build', dir], this.signal);
    let command = 'kustomize build';
    if (result.spawnError?.code === 'ENOENT') {
      result = await run('kubectl', ['kustomize', dir], this.signal);
      command = 'kubectl kustomize';
    }
    // An interrupt kills the render; the interrupt, not the render, is what to report.
    if (this.signal?.aborted && result.spawnError !== undefined) throw result.spawnError;
    if (result.spawnError?.code === 'ENOENT') {
      throw new KfbundleError('KUSTOMIZE_NOT_FOUND', `neither kustomize nor kubectl is on the PATH, and "${dir}" is a kustomization to render`, {
        hint: 'install kubectl (it has kustomize built in) or kustomize, or pass the rendered YAML file instead',
        cause: result.spawnError,
      });
    }
    if (result.spawnError !== undefined) {
      throw new KfbundleError('KUSTOMIZE_FAILED', `cannot run ${command} to render "${dir}": ${result.spawnError.message}`, {
        hint: `check that ${command.split(' ')[0]} on the PATH is an executable file (ls -l "$(command -v ${command.split(' ')[0]})")`,
        cause: result.spawnError,
      });
    }
    if (result.code !== 0) {
      const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
      const how = result.code === null ? `killed by ${result.signal ?? 'a signal'}` : `exit ${result.code}`;
      throw new KfbundleError('KUSTOMIZE_FAILED', `${command} "${dir}" failed (${how}):\n${tail}`, { hint: 'fix the kustomization it names' });
    }
    return result.stdout;
  }
}
