// Reads the `WWW-Authenticate` challenges a registry answers 401 with (RFC 7235), and builds the token request the
// Bearer scheme asks for (the Docker token protocol, used by Docker Hub, gcr.io, ghcr.io, quay.io, registry.k8s.io,
// public.ecr.aws and Artifact Registry alike).

export interface AuthChallenge {
  /** Lower-cased: `bearer`, `basic`, … */
  scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const SPACE = /[ \t]*/y;

/**
 * Every challenge in the header, in order. Quoted values may hold commas and escaped quotes; a header with a
 * scheme and no parameters (`Basic`) is a challenge too. Text that does not parse ends the list rather than failing,
 * since a registry's odd header must not hide the challenges before it.
 */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let at = 0;
  const skip = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = at;
    const match = pattern.exec(header);
    if (match === null) return undefined;
    at = pattern.lastIndex;
    return match[0];
  };
  const skipSeparators = (): void => {
    while (at < header.length && (header[at] === ',' || header[at] === ' ' || header[at] === '\t')) at++;
  };

  skipSeparators();
  while (at < header.length) {
    const scheme = skip(TOKEN);
    if (scheme === undefined) break;
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    skip(SPACE);
    // Parameters follow until a token that is not followed by `=`, which starts the next challenge.
    for (;;) {
      skipSeparators();
      const start = at;
      const name = skip(TOKEN);
      if (name === undefined) break;
      skip(SPACE);
      if (header[at] !== '=') {
        at = start;
        break;
      }
      at++;
      skip(SPACE);
      challenge.params[name.toLowerCase()] = header[at] === '"' ? readQuoted() : (skip(/[^,\s]*/y) ?? '');
    }
  }
  return challenges;

  function readQuoted(): string {
    let value = '';
    at++;
    while (at < header.length && header[at] !== '"') {
      if (header[at] === '\\' && at + 1 < header.length) at++;
      value += header[at];
      at++;
    }
    at++;
    return value;
  }
}

/** The challenge to answer: Bearer when offered (it carries the scope), else Basic, else none we speak. */
export function pickChallenge(challenges: readonly AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer' && c.params['realm'] !== undefined) ?? challenges.find((c) => c.scheme === 'basic');
}

/** `repository:NAME:pull` or `repository:NAME:pull,push`, the scope a token request names. */
export function repositoryScope(repository: string, actions: readonly ('pull' | 'push')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/**
 * The scopes to ask for: ours, plus the one the challenge names when it differs (a registry may name the scope the
 * request needs more precisely than we guess, e.g. a mount's source repository).
 */
export function tokenScopes(challenge: AuthChallenge, wanted: readonly string[]): string[] {
  const scopes = [...wanted];
  const offered = challenge.params['scope'];
  if (offered !== undefined) {
    for (const scope of offered.split(' ')) if (scope !== '' && !scopes.includes(scope)) scopes.push(scope);
  }
  return scopes;
}

/** The GET URL of the token endpoint: `realm?service=…&scope=…` (one `scope` parameter per scope). */
export function tokenUrl(challenge: AuthChallenge, scopes: readonly string[]): URL {
  const url = new URL(challenge.params['realm']!);
  if (challenge.params['service'] !== undefined) url.searchParams.set('service', challenge.params['service']);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  return url;
}

/** The form body of the OAuth2 refresh-token grant, which a stored identity token is used with. */
export function refreshTokenForm(challenge: AuthChallenge, scopes: readonly string[], refreshToken: string, clientId: string): string {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
  if (challenge.params['service'] !== undefined) form.set('service', challenge.params['service']);
  if (scopes.length > 0) form.set('scope', scopes.join(' '));
  return form.toString();
}

export interface IssuedToken {
  token: string;
  /** Seconds; the protocol's default when the server names none. */
  expiresInSeconds: number;
}

const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;

/** The token in a token endpoint's JSON answer (`token` or the OAuth2 `access_token`), or undefined when it has none. */
export function parseTokenResponse(body: unknown): IssuedToken | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const token = typeof record['token'] === 'string' && record['token'] !== '' ? record['token'] : record['access_token'];
  if (typeof token !== 'string' || token === '') return undefined;
  const expires = record['expires_in'];
  const expiresInSeconds = typeof expires === 'number' && expires > 0 ? expires : DEFAULT_TOKEN_LIFETIME_SECONDS;
  return { token, expiresInSeconds };
}

/** `Basic base64(user:password)`. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}
