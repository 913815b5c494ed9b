// How the benchmarks time what they compare and print it: each command under a limit of the benchmark's own (one that
// hangs is killed and fails the benchmark instead of stalling it), its wall time, the time each output line came
// and its peak resident memory; medians, and ratios taken within pairs whose order flips, so that the machine's
// drift over a run does not land on one side.

import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const MB = 1024 * 1024;

export interface Timed {
  seconds: number;
  peakRssMb: number;
  stdout: string;
  /** Seconds from the start at which each output line (stdout or stderr) was seen, to split a side's time. */
  lines: { at: number; text: string }[];
}

/**
 * Runs commands, each killed after `limitMs`, or never where it is undefined. `env` adds to this process's
 * environment; a variable set to undefined is left out of the command's.
 */
export class Commands {
  readonly limitMs: number | undefined;

  constructor(limitMs?: number) {
    this.limitMs = limitMs;
  }

  run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
    return execFileAsync(command, args, { env: { ...process.env, ...env }, timeout: this.limitMs ?? 0, killSignal: 'SIGKILL', maxBuffer: 64 * MB });
  }

  /** Wall seconds, output lines as they came and peak RSS from /proc; under a limit, in a process group killed whole. */
  async timed(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Timed> {
    const started = performance.now();
    const limited = this.limitMs !== undefined;
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: limited });
    let stderr = '';
    let stdout = '';
    const lines: Timed['lines'] = [];
    // Per stream, the end of the last chunk that was not a whole line yet: a chunk may end in the middle of one.
    const note = () => {
      let partial = '';
      return (chunk: Buffer | undefined) => {
        const at = (performance.now() - started) / 1000;
        const parts = (partial + (chunk?.toString() ?? '\n')).split('\n');
        partial = parts.pop()!;
        for (const text of parts) if (text.trim() !== '') lines.push({ at, text });
      };
    };
    const noteErr = note();
    const noteOut = note();
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      noteErr(c);
    });
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      noteOut(c);
    });
    let peak = 0;
    const poll = setInterval(async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
    }, 50);
    const killer = limited
      ? setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, this.limitMs)
      : undefined;
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearInterval(poll);
    clearTimeout(killer);
    noteErr(undefined);
    noteOut(undefined);
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${code}): ${(stderr || stdout).slice(-1500)}`);
    return { seconds: (performance.now() - started) / 1000, peakRssMb: peak, stdout, lines };
  }

  /** Writes back what the side before left dirty, so that its writeback does not land on the side being timed. */
  async settle(): Promise<void> {
    await this.run('sync', []);
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function pairRatio(ratios: number[]): string {
  return `${median(ratios).toFixed(2)} (median of ${ratios.length} pairs; range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`;
}

/** Runs the two sides of pair `pair`, the first one first in even pairs: whichever goes second finds a warmer page cache. */
export async function inPairOrder(pair: number, first: () => Promise<void>, second: () => Promise<void>): Promise<void> {
  for (const side of pair % 2 === 0 ? [first, second] : [second, first]) await side();
}

/** Adds the seconds of each step of one `kfbundle build --json` (its `timingsMs`) to those of the runs before. */
export function addSteps(steps: Record<string, number[]>, timingsMs: Record<string, number>): void {
  for (const [step, ms] of Object.entries(timingsMs)) (steps[step] ??= []).push(ms / 1000);
}

/** `pull 1.3 s, save 1.4 s`: the median of each step. */
export function stepMedians(steps: Record<string, number[]>): string {
  return Object.entries(steps).map(([step, xs]) => `${step} ${median(xs).toFixed(1)} s`).join(', ');
}

/** The one-minute load average, as /proc/loadavg prints it: other work on the machine shows here. */
export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ')[0]!;
}
