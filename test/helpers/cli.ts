// Runs the built CLI as a user would, in a child process, and captures what it prints.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './test-env.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCommand(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function runKfbundle(args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return runCommand(process.execPath, [join(REPO_ROOT, 'bin/kfbundle.js'), ...args], options);
}
