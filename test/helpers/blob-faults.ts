// An HTTP proxy on 127.0.0.1 in front of the local registry that breaks some answers the way real networks and
// registries do: 429 with a Retry-After (seconds or a date), 5xx, a connection dropped part-way through a blob, a
// server that ignores Range requests, bytes altered on the way. Everything else is forwarded untouched, with the
// client's Host kept so the registry's upload Locations point back through the proxy.

import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type BlobFault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Forwards the answer's headers and its first `afterBytes` body bytes, then destroys the connection. */
  | { kind: 'drop'; afterBytes: number }
  /** Forwards the answer with the byte at `atByte` of the body flipped. */
  | { kind: 'corrupt'; atByte: number }
  /** Forwards the request without its Range header, so the registry answers the whole blob (200). */
  | { kind: 'no-range' };

export interface BlobFaultRule {
  /** Tested against `METHOD /path?query`. */
  match: RegExp;
  fault: BlobFault;
  /** How many matching requests get the fault; Infinity for all. */
  times: number;
}

export interface SeenRequest {
  line: string;
  /** The Range header the client sent, if any. */
  range: string | undefined;
  authorization: string | undefined;
  /** The fault applied, if any. */
  fault: BlobFault['kind'] | undefined;
  status: number;
  at: number;
}

export class BlobFaultProxy {
  private readonly server: Server;
  private readonly target: { host: string; port: number };
  private readonly rules: { rule: BlobFaultRule; used: number }[] = [];
  readonly requests: SeenRequest[] = [];
  /** `127.0.0.1:PORT`, set by start(). */
  address = '';

  constructor(target: string, rules: BlobFaultRule[] = []) {
    const [host, port] = target.split(':') as [string, string];
    this.target = { host, port: Number(port) };
    this.setRules(rules);
    this.server = createServer((incoming, response) => this.handle(incoming, response));
  }

  /** Replaces the rules (and their counts) between test cases. */
  setRules(rules: BlobFaultRule[]): void {
    this.rules.splice(0, this.rules.length, ...rules.map((rule) => ({ rule, used: 0 })));
    this.requests.splice(0, this.requests.length);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.address;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  matching(pattern: RegExp): SeenRequest[] {
    return this.requests.filter((entry) => pattern.test(entry.line));
  }

  private handle(incoming: IncomingMessage, response: ServerResponse): void {
    const line = `${incoming.method} ${incoming.url}`;
    const seen: SeenRequest = {
      line,
      range: incoming.headers.range,
      authorization: incoming.headers.authorization,
      fault: undefined,
      status: 0,
      at: Date.now(),
    };
    this.requests.push(seen);
    const entry = this.rules.find((candidate) => candidate.rule.match.test(line) && candidate.used < candidate.rule.times);
    if (entry !== undefined) entry.used++;
    const fault = entry?.rule.fault;
    seen.fault = fault?.kind;
    if (fault?.kind === 'status') {
      incoming.resume();
      seen.status = fault.status;
      response.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      response.end(fault.body ?? JSON.stringify({ errors: [{ code: 'FAULT', message: `injected ${fault.status}` }] }));
      return;
    }
    const headers = { ...incoming.headers };
    if (fault?.kind === 'no-range') delete headers.range;
    const upstream = request({ ...this.target, method: incoming.method, path: incoming.url, headers }, (reply) => {
      seen.status = reply.statusCode ?? 0;
      response.writeHead(reply.statusCode ?? 502, reply.headers);
      if (fault?.kind === 'drop') {
        let sent = 0;
        reply.on('data', (chunk: Buffer) => {
          const room = fault.afterBytes - sent;
          if (room > 0) response.write(chunk.subarray(0, room));
          sent += chunk.length;
          if (sent >= fault.afterBytes) {
            reply.destroy();
            // Flushed first, so the client really holds the bytes before the connection goes.
            response.socket?.end(() => response.socket?.destroy());
          }
        });
        return;
      }
      if (fault?.kind === 'corrupt') {
        let offset = 0;
        reply.on('data', (chunk: Buffer) => {
          const copy = Buffer.from(chunk);
          const at = fault.atByte - offset;
          if (at >= 0 && at < copy.length) copy[at] = copy[at]! ^ 0xff;
          offset += chunk.length;
          response.write(copy);
        });
        reply.on('end', () => response.end());
        return;
      }
      reply.pipe(response);
    });
    upstream.on('error', (error) => {
      seen.status = 502;
      if (!response.headersSent) response.writeHead(502);
      response.end(error.message);
    });
    incoming.pipe(upstream);
  }
}

/** A registry error body, as the registry itself writes them. */
export function registryErrorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}
