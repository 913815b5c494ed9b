// Streams one blob from a registry, checked against its digest as it flows. A connection lost mid-blob is picked up
// where it stopped with a Range request when the server honours it, else fetched again from the start with the bytes
// already passed on skipped, so the consumer sees one unbroken stream either way.

import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { isRegistryError, RegistryError } from '../core/registry-error.js';
import { blobPath } from '../core/registry-paths.js';
import { DigestVerifyingStream } from './digest-verifying-stream.js';
import { discardBody, networkError, type HttpResponse } from './http-connector.js';
import type { RegistryTarget, RegistryTransport } from './registry-transport.js';

export interface BlobRequest {
  target: RegistryTarget;
  digest: string;
  size: number;
  signal?: AbortSignal | undefined;
  /** False when the consumer checks the digest itself (the cache does as it writes), to hash once. */
  verify?: boolean;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/**
 * The blob's bytes. Resolves once the registry has answered with the blob (so a missing or forbidden blob rejects
 * here); the stream then errors instead of ending if the bytes do not match, or if the connection cannot be resumed.
 */
export async function openBlob(transport: RegistryTransport, request: BlobRequest): Promise<Readable> {
  const name = `${request.target.registry}/${request.target.repository}@${request.digest}`;
  const what = `blob ${name}`;
  const get = (headers: Record<string, string>, accept: number[]) =>
    transport.request(request.target, {
      method: 'GET',
      path: blobPath(request.target.repository, request.digest),
      headers,
      accept,
      what,
      signal: request.signal,
    });
  const first = await get({}, [200]);

  async function* bytes(): AsyncGenerator<Buffer> {
    let response: HttpResponse = first;
    let passed = 0;
    let skip = 0;
    for (let drops = 0; ; ) {
      try {
        for await (const received of response.body as AsyncIterable<Buffer>) {
          let chunk = received;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          passed += chunk.length;
          yield chunk;
        }
        return;
      } catch (caught) {
        response.body.destroy();
        const error = isRegistryError(caught) ? caught : networkError(`GET ${what}`, caught as NodeJS.ErrnoException);
        if (request.signal?.aborted === true || !error.retryable || ++drops >= transport.maxAttempts) throw error;
        await transport.pause(what, drops, error, request.signal);
        response = await resume(passed);
        skip = response.status === 206 ? 0 : passed;
      }
    }
  }

  /** A response that continues at `offset`: a 206 starting there, else the whole blob again (200). */
  async function resume(offset: number): Promise<HttpResponse> {
    if (offset === 0) return get({}, [200]);
    const partial = await get({ range: `bytes=${offset}-` }, [200, 206]);
    if (partial.status === 200) return partial;
    const range = CONTENT_RANGE.exec(String(partial.headers['content-range'] ?? ''));
    if (range !== null && Number(range[1]) === offset) return partial;
    // A 206 for some other range is no use; start over.
    await discardBody(partial);
    return get({}, [200]);
  }

  const source = Readable.from(bytes(), { objectMode: false });
  if (request.verify === false) return source;
  const verifier = new DigestVerifyingStream({ digest: request.digest, size: request.size, what: name });
  // Errors reach the consumer through the verifier, which pipeline destroys with them.
  pipeline(source, verifier).catch(() => {});
  return verifier;
}

/** A small blob (a config) read whole into memory, checked. */
export async function readBlob(stream: Readable, limit: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      stream.destroy();
      throw new RegistryError('invalid', `${name} is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
