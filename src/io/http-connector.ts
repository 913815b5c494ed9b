// One HTTP exchange with a registry, a token endpoint or blob storage over node:http/https: keep-alive connections,
// an inactivity timeout, and socket failures reported as RegistryErrors with a fault. No auth, retries or redirects
// here; the transport above decides those.

import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { faultForNetworkError, RegistryError } from '../core/registry-error.js';

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | Readable | undefined;
  /** Accept any TLS certificate (an `--insecure-registry` host). */
  insecureTls?: boolean;
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Unread; the caller consumes or destroys it. */
  body: IncomingMessage;
  url: URL;
}

export interface HttpConnectorOptions {
  /** Connections per host; the client's own limit keeps transfers below it. */
  maxSockets?: number;
  /** A connection that sends nothing for this long fails as transient (and a blob download resumes). */
  idleTimeoutMs?: number;
  userAgent?: string;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export class HttpConnector {
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;
  private readonly insecureAgent: HttpsAgent;
  private readonly idleTimeoutMs: number;
  private readonly userAgent: string;

  constructor(options: HttpConnectorOptions = {}) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 16 };
    this.httpAgent = new HttpAgent(agentOptions);
    this.httpsAgent = new HttpsAgent(agentOptions);
    this.insecureAgent = new HttpsAgent({ ...agentOptions, rejectUnauthorized: false });
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.userAgent = options.userAgent ?? 'kfbundle';
  }

  send(request: HttpRequest): Promise<HttpResponse> {
    const { url } = request;
    const secure = url.protocol === 'https:';
    const agent = secure ? (request.insecureTls === true ? this.insecureAgent : this.httpsAgent) : this.httpAgent;
    const send = secure ? httpsRequest : httpRequest;
    const what = `${request.method} ${url.origin}${url.pathname}`;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...request.headers };
      if (Buffer.isBuffer(request.body)) headers['content-length'] = String(request.body.length);
      const outgoing = send(url, { method: request.method, headers, agent, timeout: this.idleTimeoutMs, signal: request.signal });
      outgoing.on('timeout', () => {
        outgoing.destroy(Object.assign(new Error(`no data for ${this.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      outgoing.on('error', (error: NodeJS.ErrnoException) => reject(networkError(what, error)));
      outgoing.on('response', (incoming) => {
        resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: incoming, url });
      });
      if (request.body === undefined) outgoing.end();
      else if (Buffer.isBuffer(request.body)) outgoing.end(request.body);
      else {
        request.body.on('error', (error) => outgoing.destroy(error));
        request.body.pipe(outgoing);
      }
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.insecureAgent.destroy();
  }
}

/** A socket error as a RegistryError with its fault; readers of a body use it for errors while the body streams. */
export function networkError(what: string, error: NodeJS.ErrnoException): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error.name === 'AbortError') {
    return new RegistryError('transient', `${what}: aborted`, { cause: error });
  }
  const code = error.code ?? (error.message === 'aborted' ? 'ECONNRESET' : undefined);
  return new RegistryError(faultForNetworkError(code), `${what}: ${error.message}${code !== undefined && !error.message.includes(code) ? ` (${code})` : ''}`, {
    cause: error,
  });
}

/** Reads a small body (a manifest, a token, an error) into memory, refusing one larger than `limit`. */
export async function readBody(response: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) {
        response.body.destroy();
        throw new RegistryError('invalid', `${response.url.origin}${response.url.pathname} sent more than ${limit} bytes where a small document was expected`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    throw networkError(`GET ${response.url.origin}${response.url.pathname}`, error as NodeJS.ErrnoException);
  }
  return Buffer.concat(chunks);
}

/** Reads and drops a body so its connection goes back to the pool; errors are moot by then. */
export async function discardBody(response: HttpResponse): Promise<void> {
  try {
    for await (const _ of response.body) {
      // Drained.
    }
  } catch {
    // A body that breaks while discarded costs only its connection.
  }
}
