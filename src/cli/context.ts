// What every command receives from main: streams, environment and a cancellation signal; nothing global.

import { InvalidArgumentError } from 'commander';

export interface CliContext {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  toolVersion: string;
}

export function writeJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function parsePositiveInt(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    // commander reports InvalidArgumentError as a usage error; any other error would read as a crash.
    if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1, got "${value}"`);
    return parsed;
  };
}
