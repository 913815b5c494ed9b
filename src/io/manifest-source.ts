// Turns `--manifests` into rendered YAML: a file is read as it is; a kustomization directory is rendered with
// `kustomize build`, or `kubectl kustomize` where no standalone kustomize is installed.

import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { KfbundleError } from '../core/errors.js';
import type { ManifestSource, RenderedManifests } from '../app/ports.js';

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

interface CommandResult {
  code: number | null;
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
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') }),
    );
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
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
    const info = await stat(input).catch(() => undefined);
    if (info === undefined) {
      throw new KfbundleError('INPUT_NOT_FOUND', `manifests not found: "${input}"`, {
        hint: 'pass a rendered YAML file or a directory with a kustomization.yaml',
      });
    }
    if (info.isFile()) {
      return { text: await readFile(input, 'utf8'), kind: 'file', description: basename(input) };
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
    if (result.spawnError !== undefined) {
      throw new KfbundleError('KUSTOMIZE_FAILED', `cannot run kustomize or kubectl to render "${dir}": ${result.spawnError.message}`, {
        hint: 'install kubectl (it has kustomize built in) or kustomize',
      });
    }
    if (result.code !== 0) {
      const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
      throw new KfbundleError('KUSTOMIZE_FAILED', `${command} "${dir}" failed (exit ${result.code}):\n${tail}`);
    }
    return result.stdout;
  }
}
