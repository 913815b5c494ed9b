// A GET to the Docker engine whose body is a large byte stream (`docker save`), read straight off the socket.
//
// NOTE: over HTTP/1.1 the engine sends the archive chunk-encoded in pieces of about 20 KB, and Node's HTTP client
// reads it at about 80 MB/s here, well under what `docker save > /dev/null` reaches. Asked with HTTP/1.0, the engine
// sends the body plain and closes the connection at its end; the socket then delivers 60 KB reads, close to the CLI.

import { createConnection, type NetConnectOpts, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** Where the engine listens: a unix socket path, or a plain-HTTP host and port. */
export type EngineAddress = { socketPath: string } | { host: string; port: number };

const MAX_HEADER_BYTES = 64 * 1024;

export class EngineHttpError extends Error {
  readonly statusCode: number;
  /** The engine's own message, without the status. */
  readonly engineMessage: string;
  constructor(statusCode: number, engineMessage: string) {
    super(`(HTTP code ${statusCode}) ${engineMessage}`);
    this.statusCode = statusCode;
    this.engineMessage = engineMessage;
  }
}

/** The engine hung up before its answer was complete: the same to the caller as a reset connection. */
export class EngineClosedError extends Error {
  readonly code = 'ECONNRESET';
}

/** Resolves with the response body as a stream once the engine answered 200; rejects with its message otherwise. */
export function engineGetStream(address: EngineAddress, path: string, signal?: AbortSignal): Promise<Readable> {
  const options: NetConnectOpts = 'socketPath' in address ? { path: address.socketPath } : { host: address.host, port: address.port };
  const socket: Socket = createConnection({ ...options, highWaterMark: 1024 * 1024 } as unknown as NetConnectOpts);
  return new Promise<Readable>((resolve, reject) => {
    const onAbort = () => socket.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(error);
    };
    // Until the whole answer is read, an end of the connection is a failure: the engine went away mid-answer.
    const onEnd = () => fail(new EngineClosedError('the engine closed the connection before it answered'));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_HEADER_BYTES) fail(new Error('the engine sent no end of headers'));
        return;
      }
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1]);
      const rest = head.subarray(end + 4);
      if (status === 200) {
        socket.off('error', fail);
        settled = true;
        if (rest.length > 0) socket.unshift(rest);
        signal?.removeEventListener('abort', onAbort);
        resolve(socket);
        return;
      }
      // An error body is a small JSON message: read it whole, then report it. The error listener stays.
      const parts: Buffer[] = [Buffer.from(rest)];
      socket.on('data', (more: Buffer) => parts.push(more));
      socket.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let message = text.trim();
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // Not JSON: keep the text.
        }
        fail(new EngineHttpError(status, message));
      });
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', fail);
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: kfbundle\r\n\r\n`));
  });
}
