// A registry that asks for auth, made of the local registry and a proxy on 127.0.0.1 in front of it. In bearer mode it
// answers 401 with a `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge unless a token it issued for the
// repository and action is presented, and issues tokens at /token the way Docker Hub's auth service does: anonymous
// ones (pull on public repositories only), for basic credentials, or for an OAuth2 refresh token (an identity token).
// In basic mode it wants Basic credentials on every request. It can also answer blob GETs with a 307 to a blob store
// on another port that refuses any request carrying an Authorization header, as S3 and GCS do.

import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenServerOptions {
  /** `127.0.0.1:PORT` of the registry behind it. */
  registry: string;
  /** `none` asks for no auth (a front that only redirects, like registry.k8s.io). */
  scheme: 'bearer' | 'basic' | 'none';
  /** username -> password. */
  users: Record<string, string>;
  /** identity (refresh) token -> username, for the OAuth2 refresh-token grant. */
  refreshTokens?: Record<string, string>;
  /** Repository path prefixes that an anonymous token may pull. */
  publicPrefixes?: string[];
  /** Seconds a token lives. */
  tokenLifetime?: number;
  /** Redirect blob GETs to a blob store on another port. */
  redirectBlobs?: boolean;
  /** `127.0.0.1:PORT` to redirect every API request to (307, same path), as registry.k8s.io sends all to its backend. */
  redirectApiTo?: string;
}

export interface TokenRequest {
  method: string;
  /** Who asked: a username, or `anonymous`. */
  who: string;
  scopes: string[];
  granted: string[];
}

export interface StoreRequest {
  path: string;
  authorization: string | undefined;
  range: string | undefined;
  status: number;
}

interface Grant {
  who: string;
  /** `repository:action` pairs. */
  access: Set<string>;
  expiresAt: number;
}

const SERVICE = 'kfb-test-registry';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function unauthorized(response: ServerResponse, challenge: string): void {
  response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': challenge });
  response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] }));
}

/** The repository and the actions a registry API request needs, as distribution's token auth reads them. */
function accessNeeded(method: string, url: URL): { repository: string; actions: string[]; mountFrom?: string } | undefined {
  const match = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname);
  if (match === null) return undefined;
  const write = method !== 'GET' && method !== 'HEAD';
  const from = url.searchParams.get('from');
  return { repository: match[1]!, actions: write ? ['pull', 'push'] : ['pull'], ...(from === null ? {} : { mountFrom: from }) };
}

export class TokenServer {
  private readonly options: TokenServerOptions;
  private readonly registry: Server;
  private readonly store: Server;
  private readonly grants = new Map<string, Grant>();
  readonly tokenRequests: TokenRequest[] = [];
  readonly storeRequests: StoreRequest[] = [];
  /** Registry API requests, with the Authorization each carried. */
  readonly requests: { line: string; authorization: string | undefined; status: number }[] = [];
  /** `127.0.0.1:PORT` of the registry face, set by start(). */
  address = '';
  storeAddress = '';

  constructor(options: TokenServerOptions) {
    this.options = options;
    this.registry = createServer((incoming, response) => this.handleRegistry(incoming, response));
    this.store = createServer((incoming, response) => this.handleStore(incoming, response));
  }

  async start(): Promise<string> {
    this.address = await listen(this.registry);
    this.storeAddress = await listen(this.store);
    return this.address;
  }

  async stop(): Promise<void> {
    await close(this.registry);
    await close(this.store);
  }

  /** Makes every token issued so far invalid, as an expiry would. */
  revokeTokens(): void {
    this.grants.clear();
  }

  private handleRegistry(incoming: IncomingMessage, response: ServerResponse): void {
    const url = new URL(incoming.url ?? '/', `http://${this.address}`);
    if (url.pathname === '/token') {
      this.handleToken(incoming, url, response);
      return;
    }
    const seen = { line: `${incoming.method} ${incoming.url}`, authorization: incoming.headers.authorization, status: 0 };
    this.requests.push(seen);
    const finish = (status: number) => {
      seen.status = status;
    };
    if (this.options.redirectApiTo !== undefined) {
      incoming.resume();
      finish(307);
      response.writeHead(307, { location: `http://${this.options.redirectApiTo}${incoming.url ?? '/'}` });
      response.end();
      return;
    }
    const needed = accessNeeded(incoming.method ?? 'GET', url);
    if (!this.authorised(incoming.headers.authorization, needed)) {
      incoming.resume();
      finish(401);
      if (this.options.scheme === 'basic') {
        unauthorized(response, 'Basic realm="kfb-test-registry"');
        return;
      }
      const scope = needed === undefined ? '' : `,scope="repository:${needed.repository}:${needed.actions.join(',')}"`;
      unauthorized(response, `Bearer realm="http://${this.address}/token",service="${SERVICE}"${scope}`);
      return;
    }
    if (this.options.redirectBlobs === true && incoming.method === 'GET' && /\/blobs\/sha256:/.test(url.pathname)) {
      incoming.resume();
      finish(307);
      // A signed-looking URL, as blob storage hands out.
      response.writeHead(307, { location: `http://${this.storeAddress}${url.pathname.replace(/^\/v2/, '/store')}?signature=${randomBytes(8).toString('hex')}` });
      response.end();
      return;
    }
    const headers = { ...incoming.headers };
    delete headers.authorization;
    let path = incoming.url ?? '/';
    if (needed?.mountFrom !== undefined && !this.mayMountFrom(incoming.headers.authorization, needed.mountFrom)) path = url.pathname;
    const upstream = request({ host: this.options.registry.split(':')[0], port: Number(this.options.registry.split(':')[1]), method: incoming.method, path, headers }, (reply) => {
      finish(reply.statusCode ?? 0);
      response.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(response);
    });
    upstream.on('error', (error) => {
      finish(502);
      if (!response.headersSent) response.writeHead(502);
      response.end(error.message);
    });
    incoming.pipe(upstream);
  }

  private authorised(header: string | undefined, needed: ReturnType<typeof accessNeeded>): boolean {
    if (this.options.scheme === 'none') return true;
    if (this.options.scheme === 'basic') return header !== undefined && this.basicUser(header) !== undefined;
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    const grant = this.grants.get(header.slice('Bearer '.length));
    if (grant === undefined || grant.expiresAt < Date.now()) return false;
    if (needed === undefined) return true;
    return needed.actions.every((action) => grant.access.has(`${needed.repository}:${action}`));
  }

  /** A mount from a repository the token may not pull becomes a plain upload, as distribution treats it. */
  private mayMountFrom(header: string | undefined, from: string): boolean {
    if (this.options.scheme !== 'bearer') return true;
    const grant = header === undefined ? undefined : this.grants.get(header.replace(/^Bearer /, ''));
    return grant?.access.has(`${from}:pull`) === true;
  }

  private basicUser(header: string): string | undefined {
    if (!header.startsWith('Basic ')) return undefined;
    const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    return colon > 0 && this.options.users[user] === password ? user : undefined;
  }

  private handleToken(incoming: IncomingMessage, url: URL, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      let who: string | undefined = 'anonymous';
      let scopes: string[];
      if (incoming.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const user = form.get('grant_type') === 'refresh_token' ? this.options.refreshTokens?.[form.get('refresh_token') ?? ''] : undefined;
        who = user;
        scopes = (form.get('scope') ?? '').split(' ').filter((scope) => scope !== '');
      } else {
        const header = incoming.headers.authorization;
        if (header !== undefined) who = this.basicUser(header);
        scopes = url.searchParams.getAll('scope');
      }
      if (who === undefined) {
        this.tokenRequests.push({ method: incoming.method ?? '', who: 'rejected', scopes, granted: [] });
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      const access = new Set<string>();
      for (const scope of scopes) {
        const [type, repository, actions] = scope.split(':');
        if (type !== 'repository' || repository === undefined || actions === undefined) continue;
        for (const action of actions.split(',')) {
          const anonymousPull = action === 'pull' && (this.options.publicPrefixes ?? []).some((prefix) => repository.startsWith(prefix));
          if (who !== 'anonymous' || anonymousPull) access.add(`${repository}:${action}`);
        }
      }
      const token = randomBytes(16).toString('hex');
      const lifetime = this.options.tokenLifetime ?? 300;
      this.grants.set(token, { who, access, expiresAt: Date.now() + lifetime * 1000 });
      this.tokenRequests.push({ method: incoming.method ?? '', who, scopes, granted: [...access] });
      response.writeHead(200, { 'content-type': 'application/json' });
      const body = incoming.method === 'POST' ? { access_token: token, expires_in: lifetime } : { token, access_token: token, expires_in: lifetime, issued_at: new Date().toISOString() };
      response.end(JSON.stringify(body));
    });
  }

  /** Blob storage: serves `/store/<name>/blobs/<digest>` from the registry, refusing requests that carry credentials. */
  private handleStore(incoming: IncomingMessage, response: ServerResponse): void {
    const url = new URL(incoming.url ?? '/', `http://${this.storeAddress}`);
    const seen: StoreRequest = { path: url.pathname, authorization: incoming.headers.authorization, range: incoming.headers.range, status: 0 };
    this.storeRequests.push(seen);
    incoming.resume();
    if (incoming.headers.authorization !== undefined) {
      seen.status = 400;
      response.writeHead(400, { 'content-type': 'application/xml' });
      response.end('<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
      return;
    }
    const headers: Record<string, string> = {};
    if (incoming.headers.range !== undefined) headers['range'] = incoming.headers.range;
    const upstream = request(
      { host: this.options.registry.split(':')[0], port: Number(this.options.registry.split(':')[1]), method: 'GET', path: url.pathname.replace(/^\/store/, '/v2'), headers },
      (reply) => {
        seen.status = reply.statusCode ?? 0;
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
      },
    );
    upstream.on('error', (error) => {
      seen.status = 502;
      if (!response.headersSent) response.writeHead(502);
      response.end(error.message);
    });
    upstream.end();
  }
}
