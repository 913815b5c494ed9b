// Runs the built CLI as a user would, in a child process, and captures what it prints. Every run has a time limit:
// a command that hangs is killed with everything it started, and the test fails saying so instead of hanging.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './test-env.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the command (and its children) after this long and fail; BUILD_MS unless given. */
  timeoutMs?: number;
}

/** For a command that answers at once: kubectl against the double, ctr listing, a dry run, a refusal. */
export const QUICK_MS = 30_000;
/**
 * For a command that pulls, saves, loads or waits on a cluster (a build of a small release, an install): the default,
 * since a limit too short for a slow machine fails a good test, while one too long only delays reporting a hang.
 */
export const BUILD_MS = 120_000;

export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? BUILD_MS;
  return new Promise((resolve, reject) => {
    // A process group of its own, so that a timeout ends what the command started too (install.sh's kubectl, docker).
    const child = spawn(command, [...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!timedOut) return resolve({ code, stdout, stderr });
      const line = [command, ...args].join(' ');
      reject(new Error(`killed after ${timeoutMs / 1000} s: ${line}\n--- stdout (end)\n${stdout.slice(-2000)}\n--- stderr (end)\n${stderr.slice(-2000)}`));
    });
  });
}

export function runKfbundle(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runCommand(process.execPath, [join(REPO_ROOT, 'bin/kfbundle.js'), ...args], options);
}
