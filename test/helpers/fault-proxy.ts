// An HTTP proxy on 127.0.0.1 in front of the local registry that answers some requests with faults first (429, 5xx,
// access denied), the way a throttled or unfriendly registry does, and forwards everything else untouched.

import { createServer, request, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultRule {
  /** Tested against `METHOD /path`. */
  match: RegExp;
  /** The fault's status; 0 to forward the request after `delayMs` instead (a slow registry). */
  status: number;
  delayMs?: number;
  /** Registry error body (`{"errors":[…]}`) or text. */
  body: string;
  /** How many matching requests get the fault before they are forwarded; Infinity for always. */
  times: number;
}

export interface ProxiedRequest {
  line: string;
  status: number;
  fault: boolean;
}

export class FaultProxy {
  private readonly server: Server;
  private readonly target: { host: string; port: number };
  private readonly rules: { rule: FaultRule; used: number }[];
  readonly requests: ProxiedRequest[] = [];
  /** Requests held back by a delay rule, and requests under way to the registry: a stopped proxy leaves none. */
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly upstreams = new Set<ClientRequest>();
  private stopped = false;
  private readonly keepHost: boolean;
  /** `127.0.0.1:PORT`, set by start(). */
  address = '';

  /**
   * `keepHost`: forward the client's Host header as it came, as a layer-4 proxy (kube-proxy) would, so that URLs the
   * registry builds from it (an upload's Location) lead back through this proxy.
   */
  constructor(target: string, rules: FaultRule[], options: { keepHost?: boolean } = {}) {
    this.keepHost = options.keepHost === true;
    const [host, port] = target.split(':') as [string, string];
    this.target = { host, port: Number(port) };
    this.rules = rules.map((rule) => ({ rule, used: 0 }));
    this.server = createServer((incoming, response) => this.handle(incoming, response));
  }

  /** Listens on `port` of 127.0.0.1 (default: a free one). */
  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.address;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    for (const upstream of this.upstreams) upstream.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests whose `METHOD /path` matches, in order. */
  matching(pattern: RegExp): ProxiedRequest[] {
    return this.requests.filter((entry) => pattern.test(entry.line));
  }

  private handle(incoming: IncomingMessage, response: ServerResponse): void {
    const line = `${incoming.method} ${incoming.url}`;
    const fault = this.rules.find((entry) => entry.rule.match.test(line) && entry.used < entry.rule.times);
    if (fault !== undefined && fault.rule.status === 0) {
      fault.used++;
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        this.forward(incoming, response, line);
      }, fault.rule.delayMs ?? 0);
      this.delayed.add(timer);
      return;
    }
    if (fault !== undefined) {
      fault.used++;
      this.requests.push({ line, status: fault.rule.status, fault: true });
      incoming.resume();
      const json = fault.rule.body.startsWith('{');
      response.writeHead(fault.rule.status, {
        'content-type': json ? 'application/json' : 'text/plain',
        ...(fault.rule.status === 429 ? { 'retry-after': '1' } : {}),
      });
      response.end(fault.rule.body);
      return;
    }
    this.forward(incoming, response, line);
  }

  private forward(incoming: IncomingMessage, response: ServerResponse, line: string): void {
    if (this.stopped) {
      response.destroy();
      return;
    }
    const upstream = request(
      { ...this.target, method: incoming.method, path: incoming.url, headers: this.keepHost ? incoming.headers : { ...incoming.headers, host: `${this.target.host}:${this.target.port}` } },
      (reply) => {
        this.requests.push({ line, status: reply.statusCode ?? 0, fault: false });
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
      },
    );
    this.upstreams.add(upstream);
    upstream.on('close', () => this.upstreams.delete(upstream));
    upstream.on('error', (error) => {
      this.requests.push({ line, status: 502, fault: false });
      response.writeHead(502).end(error.message);
    });
    incoming.pipe(upstream);
  }
}
