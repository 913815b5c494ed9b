// Splits a tar stream, chunk by chunk, into 512-byte headers and the data that follows each; the callers decide what
// to do with them. Data is handed on as slices of the chunks it arrived in, never copied.

import { BLOCK } from '../core/tar-header.js';

export interface TarScanHandler {
  /** A header block (a copy the handler may keep); returns how many bytes of data, padded to whole blocks, follow. */
  onHeader(block: Buffer): number;
  /** A slice of the current entry's data. */
  onData(slice: Buffer): void;
  /** The current entry's data is complete (right after onHeader when there is none). */
  onEntryEnd(): void;
}

export class TarScanner {
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private dataRemaining = 0;
  private readonly handler: TarScanHandler;

  constructor(handler: TarScanHandler) {
    this.handler = handler;
  }

  /** True between entries: no header half-read, no data still expected. */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.dataRemaining === 0;
  }

  feed(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.dataRemaining > 0) {
        const length = Math.min(this.dataRemaining, chunk.length - offset);
        this.handler.onData(chunk.subarray(offset, offset + length));
        this.dataRemaining -= length;
        offset += length;
        if (this.dataRemaining === 0) this.handler.onEntryEnd();
        continue;
      }
      const length = Math.min(BLOCK - this.headerFill, chunk.length - offset);
      chunk.copy(this.header, this.headerFill, offset, offset + length);
      this.headerFill += length;
      offset += length;
      if (this.headerFill < BLOCK) break;
      this.headerFill = 0;
      this.dataRemaining = this.handler.onHeader(Buffer.from(this.header));
      if (this.dataRemaining === 0) this.handler.onEntryEnd();
    }
  }
}
