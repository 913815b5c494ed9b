// Reads the engine's pull stream line by line. dockerd reports failures in-band as `{"error": …}` on a 200 response,
// so a pull that only waits for the stream's end reports success for an image that never arrived.

import { Writable } from 'node:stream';

export interface PullStatusLine {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** A Writable that parses newline-delimited JSON and remembers the first in-band error. */
export class PullStatusSink extends Writable {
  private buffered = '';
  private failure: string | undefined;
  private readonly onLine: (line: PullStatusLine) => void;

  constructor(onLine: (line: PullStatusLine) => void = () => {}) {
    super({ decodeStrings: true });
    this.onLine = onLine;
  }

  get error(): string | undefined {
    return this.failure;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.buffered += chunk.toString('utf8');
    let newline = this.buffered.indexOf('\n');
    while (newline !== -1) {
      this.handle(this.buffered.slice(0, newline));
      this.buffered = this.buffered.slice(newline + 1);
      newline = this.buffered.indexOf('\n');
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.handle(this.buffered);
    this.buffered = '';
    callback();
  }

  private handle(text: string): void {
    const trimmed = text.trim();
    if (trimmed === '') return;
    let line: PullStatusLine;
    try {
      line = JSON.parse(trimmed) as PullStatusLine;
    } catch {
      this.failure ??= `unreadable progress line from the engine: ${trimmed.slice(0, 200)}`;
      return;
    }
    const message = line.errorDetail?.message ?? line.error;
    if (message !== undefined) this.failure ??= message;
    this.onLine(line);
  }
}
