// Requests to one registry's HTTP API v2 the way Docker makes them: plain HTTP for loopback hosts, TLS otherwise
// (without verification, then plain HTTP, for insecure registries); the auth each registry asks for in its 401
// challenge (anonymous or credentialed Bearer tokens, Basic); redirects followed without the registry's credentials
// when they leave its origin; and retries with backoff and Retry-After on 429, 5xx and lost connections.

import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { RegistryCredentials } from '../core/docker-auth.js';
import {
  basicAuthorization,
  parseAuthChallenges,
  parseTokenResponse,
  pickChallenge,
  refreshTokenForm,
  repositoryScope,
  tokenScopes,
  tokenUrl,
  type AuthChallenge,
} from '../core/registry-auth-challenge.js';
import { faultForStatus, isRegistryError, parseRetryAfter, registryErrorText, retryDelay, RegistryError } from '../core/registry-error.js';
import { isCrossOrigin, registryApiHost, transportFor } from '../core/registry-paths.js';
import { backoffDelay } from '../core/retry.js';
import { discardBody, HttpConnector, readBody, type HttpResponse } from './http-connector.js';
import type { CredentialLookup } from './registry-credentials.js';

export interface RegistryTarget {
  /** The registry as a reference names it: `docker.io`, `gcr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** The path below it: `library/busybox`. */
  repository: string;
  actions: readonly ('pull' | 'push')[];
  /** Further token scopes, e.g. pull on the source repository of a cross-repository mount. */
  extraScopes?: readonly string[];
}

export interface RegistryRequest {
  method: string;
  /** Path and query on the registry's API host, e.g. `/v2/library/busybox/manifests/latest`. */
  path?: string;
  /** An absolute URL instead of `path` (an upload Location). */
  url?: URL;
  headers?: Record<string, string>;
  /** Called for each send, since a 401, a redirect or a retry sends the body again. */
  body?: () => Buffer | Readable | Promise<Buffer | Readable>;
  /** Statuses that are answers; any other is a RegistryError. */
  accept: readonly number[];
  /** How messages name what was asked for, e.g. `manifest gcr.io/x/y:1`. */
  what: string;
  signal?: AbortSignal | undefined;
  /** False for a request that must not repeat alone (an upload PUT: its caller starts the upload over instead). */
  retry?: boolean;
}

export interface RetryInfo {
  what: string;
  attempt: number;
  delayMs: number;
  error: RegistryError;
}

export interface TransportOptions {
  /** Anonymous for every registry when absent. */
  credentials?: CredentialLookup;
  /** `HOST` or `HOST:PORT` entries, as `--insecure-registry` takes them. */
  insecureRegistries?: readonly string[];
  /** Tries per request, including the first. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A registry that asks us to wait longer than this (a rate limit measured in hours) fails the request instead. */
  maxRetryAfterMs?: number;
  idleTimeoutMs?: number;
  maxSockets?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

interface Endpoint {
  origin: string;
  insecureTls: boolean;
}

interface CachedAuthorization {
  authorization: string;
  expiresAt: number;
}

const MAX_REDIRECTS = 5;
const TOKEN_BODY_LIMIT = 1024 * 1024;
const ERROR_BODY_LIMIT = 64 * 1024;
// Renew a token this long before it expires, so it does not expire between asking and sending.
const TOKEN_MARGIN_MS = 10_000;
const CLIENT_ID = 'kfbundle';

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

export class RegistryTransport {
  private readonly connector: HttpConnector;
  private readonly options: TransportOptions;
  private readonly attempts: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  /** The challenge each API host answered with, so later requests fetch their token before asking. */
  private readonly challenges = new Map<string, AuthChallenge>();
  private readonly tokens = new Map<string, Promise<CachedAuthorization>>();
  /** Errors already given up on for a wait too long, so an enclosing retry loop gives up on them too. */
  private readonly tooLong = new WeakSet<RegistryError>();

  constructor(options: TransportOptions = {}) {
    this.options = options;
    this.attempts = options.attempts ?? 5;
    this.sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, signal === undefined ? {} : { signal }));
    this.now = options.now ?? Date.now;
    this.connector = new HttpConnector({
      ...(options.maxSockets === undefined ? {} : { maxSockets: options.maxSockets }),
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    });
  }

  close(): void {
    this.connector.close();
  }

  /** One request, retried while its faults are transient; the answer's body is left for the caller to read. */
  request(target: RegistryTarget, request: RegistryRequest): Promise<HttpResponse> {
    if (request.retry === false) return this.exchange(target, request);
    return this.withRetries(request.what, () => this.exchange(target, request), request.signal);
  }

  /** Runs `task` again after transient faults, waiting the backoff or the registry's Retry-After, whichever is longer. */
  async withRetries<T>(what: string, task: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await task(attempt);
      } catch (error) {
        if (signal?.aborted === true || !isRegistryError(error) || !error.retryable || attempt >= this.attempts || this.tooLong.has(error)) throw error;
        const maxRetryAfterMs = this.options.maxRetryAfterMs ?? 120_000;
        if (error.retryAfterMs !== undefined && error.retryAfterMs > maxRetryAfterMs) {
          const givenUp = new RegistryError('transient', `${error.message}; the registry asks to wait ${Math.ceil(error.retryAfterMs / 1000)} s`, {
            ...(error.status === undefined ? {} : { status: error.status }),
            retryAfterMs: error.retryAfterMs,
            hint: 'wait and run again, use a mirror (--mirror), or log in for a higher rate limit',
            cause: error,
          });
          this.tooLong.add(givenUp);
          throw givenUp;
        }
        await this.pause(what, attempt, error, signal);
      }
    }
  }

  /** Waits before try `attempt + 1`: the backoff, or the registry's Retry-After when longer. */
  async pause(what: string, attempt: number, error: RegistryError, signal?: AbortSignal): Promise<void> {
    const backoff = backoffDelay(attempt, {
      baseDelayMs: this.options.baseDelayMs ?? 500,
      maxDelayMs: this.options.maxDelayMs ?? 20_000,
      random: this.options.random ?? Math.random,
    });
    const delayMs = retryDelay(backoff, error.retryAfterMs);
    this.options.onRetry?.({ what, attempt, delayMs, error });
    await this.sleep(delayMs, signal);
  }

  /** Tries per request, including the first. */
  get maxAttempts(): number {
    return this.attempts;
  }

  /** The origin API requests go to, e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  async origin(registry: string, signal?: AbortSignal): Promise<string> {
    return (await this.endpoint(registryApiHost(registry), signal)).origin;
  }

  private async exchange(target: RegistryTarget, request: RegistryRequest): Promise<HttpResponse> {
    const endpoint = await this.endpoint(registryApiHost(target.registry), request.signal);
    let url = request.url ?? new URL(request.path ?? '/v2/', endpoint.origin);
    let method = request.method;
    let body = request.body;
    // What each origin is sent. The registry's own credentials never go to another origin; another origin (the
    // registry.k8s.io redirect to Artifact Registry, say) gets only what it asks for in its own challenge.
    const authorizations = new Map<string, string | undefined>([[endpoint.origin, await this.knownAuthorization(target, request.signal)]]);
    const challenged = new Set<string>();
    for (let hops = 0; ; ) {
      const atRegistry = !isCrossOrigin(url, new URL(endpoint.origin));
      const scope = atRegistry ? target : foreignTarget(url, target);
      if (!authorizations.has(url.origin)) authorizations.set(url.origin, await this.knownAuthorization(scope, request.signal));
      const authorization = authorizations.get(url.origin);
      const headers: Record<string, string> = { ...request.headers };
      if (authorization !== undefined) headers['authorization'] = authorization;
      const response = await this.connector.send({
        method,
        url,
        headers,
        body: body === undefined ? undefined : await body(),
        insecureTls: atRegistry ? endpoint.insecureTls : transportFor(url.host, this.options.insecureRegistries ?? []) === 'insecure',
        signal: request.signal,
      });
      if (response.status === 401 && !request.accept.includes(401)) {
        await discardBody(response);
        const challenge = pickChallenge(parseAuthChallenges(String(response.headers['www-authenticate'] ?? '')));
        if (challenged.has(url.origin) || challenge === undefined) throw await this.deniedError(scope, request.what, response.status);
        challenged.add(url.origin);
        this.challenges.set(registryApiHost(scope.registry), challenge);
        authorizations.set(url.origin, await this.freshAuthorization(scope, challenge, authorization, request.signal));
        continue;
      }
      const location = response.headers['location'];
      if (isRedirect(response.status) && typeof location === 'string' && !request.accept.includes(response.status)) {
        await discardBody(response);
        if (++hops > MAX_REDIRECTS) throw new RegistryError('invalid', `${request.what}: more than ${MAX_REDIRECTS} redirects`);
        url = new URL(location, url);
        if (response.status === 303) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      if (request.accept.includes(response.status)) return response;
      throw await statusError(response, `${request.what}: ${url.host} answered`);
    }
  }

  /** Docker's rule: loopback over plain HTTP, insecure hosts over TLS without verification if they speak it, else HTTP. */
  private endpoint(apiHost: string, signal?: AbortSignal): Promise<Endpoint> {
    let endpoint = this.endpoints.get(apiHost);
    if (endpoint === undefined) {
      endpoint = this.findEndpoint(apiHost, signal);
      this.endpoints.set(apiHost, endpoint);
      endpoint.catch(() => this.endpoints.delete(apiHost));
    }
    return endpoint;
  }

  private async findEndpoint(apiHost: string, signal?: AbortSignal): Promise<Endpoint> {
    const transport = transportFor(apiHost, this.options.insecureRegistries ?? []);
    if (transport === 'http') return { origin: `http://${apiHost}`, insecureTls: false };
    if (transport === 'https') return { origin: `https://${apiHost}`, insecureTls: false };
    try {
      const probe = await this.connector.send({ method: 'GET', url: new URL(`https://${apiHost}/v2/`), headers: {}, insecureTls: true, signal });
      await discardBody(probe);
      return { origin: `https://${apiHost}`, insecureTls: true };
    } catch (error) {
      if (signal?.aborted === true) throw error;
      return { origin: `http://${apiHost}`, insecureTls: false };
    }
  }

  private wantedScopes(target: RegistryTarget): string[] {
    return [repositoryScope(target.repository, target.actions), ...(target.extraScopes ?? [])];
  }

  private tokenKey(target: RegistryTarget): string {
    return `${registryApiHost(target.registry)} ${this.wantedScopes(target).join(' ')}`;
  }

  /** What to send before any 401: a token for this scope if the host is known to want one, else nothing. */
  private async knownAuthorization(target: RegistryTarget, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.challenges.get(registryApiHost(target.registry));
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') {
      const credentials = await this.credentialsFor(target.registry);
      return credentials?.username !== undefined && credentials.password !== undefined ? basicAuthorization(credentials.username, credentials.password) : undefined;
    }
    const cached = await this.cachedToken(target);
    if (cached !== undefined) return cached;
    return this.freshAuthorization(target, challenge, undefined, signal);
  }

  private async cachedToken(target: RegistryTarget): Promise<string | undefined> {
    const entry = this.tokens.get(this.tokenKey(target));
    if (entry === undefined) return undefined;
    try {
      const token = await entry;
      return token.expiresAt > this.now() ? token.authorization : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Answers a challenge. A token another request fetched since `failed` was sent is reused rather than asked for
   * again, so a burst of parallel 401s costs one token request.
   */
  private async freshAuthorization(target: RegistryTarget, challenge: AuthChallenge, failed: string | undefined, signal?: AbortSignal): Promise<string> {
    if (challenge.scheme === 'basic') {
      const credentials = await this.credentialsFor(target.registry);
      if (credentials?.username === undefined || credentials.password === undefined) throw await this.deniedError(target, 'registry', 401);
      return basicAuthorization(credentials.username, credentials.password);
    }
    const key = this.tokenKey(target);
    const current = await this.cachedToken(target);
    if (current !== undefined && current !== failed) return current;
    const token = this.fetchToken(target, challenge, signal);
    this.tokens.set(key, token);
    token.catch(() => {
      if (this.tokens.get(key) === token) this.tokens.delete(key);
    });
    return (await token).authorization;
  }

  private async fetchToken(target: RegistryTarget, challenge: AuthChallenge, signal?: AbortSignal): Promise<CachedAuthorization> {
    const scopes = tokenScopes(challenge, this.wantedScopes(target));
    const credentials = await this.credentialsFor(target.registry);
    let realm: URL;
    try {
      realm = tokenUrl(challenge, scopes);
    } catch {
      throw new RegistryError('invalid', `${target.registry} names an unusable token realm "${challenge.params['realm']}"`);
    }
    const insecureTls = transportFor(realm.host, this.options.insecureRegistries ?? []) === 'insecure';
    const what = `token for ${target.registry}/${target.repository} from ${realm.origin}${realm.pathname}`;
    const started = this.now();
    let response: HttpResponse;
    if (credentials?.identitytoken !== undefined) {
      // A stored identity token is an OAuth2 refresh token: exchanged by POST, as the docker CLI does.
      const form = Buffer.from(refreshTokenForm(challenge, scopes, credentials.identitytoken, CLIENT_ID));
      const postUrl = new URL(realm.origin + realm.pathname);
      response = await this.connector.send({ method: 'POST', url: postUrl, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, insecureTls, signal });
    } else {
      const headers: Record<string, string> = {};
      if (credentials?.username !== undefined && credentials.password !== undefined) headers['authorization'] = basicAuthorization(credentials.username, credentials.password);
      response = await this.connector.send({ method: 'GET', url: realm, headers, insecureTls, signal });
    }
    if (response.status === 401 || response.status === 403) {
      await discardBody(response);
      throw await this.deniedError(target, 'token endpoint', response.status);
    }
    if (response.status !== 200) throw await statusError(response, `${what}: ${realm.host} answered`);
    const body = await readBody(response, TOKEN_BODY_LIMIT);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const token = parseTokenResponse(parsed);
    if (token === undefined) throw new RegistryError('invalid', `${what}: the answer holds no token`);
    return { authorization: `Bearer ${token.token}`, expiresAt: started + token.expiresInSeconds * 1000 - TOKEN_MARGIN_MS };
  }

  private async credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    return this.options.credentials === undefined ? undefined : this.options.credentials(registry);
  }

  private async deniedError(target: RegistryTarget, what: string, status: number): Promise<RegistryError> {
    const credentials = await this.credentialsFor(target.registry).catch(() => undefined);
    const name = `${target.registry}/${target.repository}`;
    const action = target.actions.includes('push') ? 'push to' : 'pull from';
    if (credentials === undefined) {
      return new RegistryError('denied', `access denied to ${action} ${name} (${what}: ${status}): the repository does not exist or needs credentials, and the Docker config has none for ${target.registry}`, {
        status,
        hint: `check the name, or run: docker login ${target.registry}`,
      });
    }
    return new RegistryError('denied', `access denied to ${action} ${name} (${what}: ${status}) with the credentials from the Docker config for ${target.registry}`, {
      status,
      hint: `check the name and that the account may ${target.actions.includes('push') ? 'push' : 'pull'}; run docker login ${target.registry} again if the credentials expired`,
    });
  }
}

/**
 * The target a redirect's origin is asked for auth as: its own host, and the repository its API path names (an
 * Artifact Registry path differs from the registry.k8s.io one), with the same actions.
 */
function foreignTarget(url: URL, target: RegistryTarget): RegistryTarget {
  const named = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(url.pathname)?.[1];
  return { registry: url.host, repository: named ?? target.repository, actions: target.actions };
}

/** An error for an unexpected status, with the registry's own words and its Retry-After. */
export async function statusError(response: HttpResponse, prefix: string): Promise<RegistryError> {
  let text = '';
  try {
    text = registryErrorText((await readBody(response, ERROR_BODY_LIMIT)).toString('utf8'));
  } catch {
    // The status alone says enough.
  }
  const retryAfter = response.headers['retry-after'];
  const retryAfterMs = parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : undefined, Date.now());
  return new RegistryError(faultForStatus(response.status), `${prefix} ${response.status}${text === '' ? '' : ` (${text})`}`, {
    status: response.status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}
