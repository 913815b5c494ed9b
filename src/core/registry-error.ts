// What went wrong talking to a registry, sorted into the few kinds a caller acts on differently: try the next mirror
// (not-found, unreachable), stop and ask for credentials (denied), wait and try again (transient), refuse the bytes
// (digest-mismatch), or give up on the image (invalid).

import { KfbundleError, type FaultKind, type KfbundleErrorOptions } from './errors.js';

/** The shared fault kinds, plus bytes that do not match their digest (code DIGEST_MISMATCH, no shared fault). */
export type RegistryFault = FaultKind | 'digest-mismatch';

export interface RegistryErrorOptions extends Omit<KfbundleErrorOptions, 'fault'> {
  /** The HTTP status that decided the fault, when one did. */
  status?: number;
  /** How long the registry asked us to wait (`Retry-After`), in milliseconds. */
  retryAfterMs?: number;
}

export class RegistryError extends KfbundleError {
  readonly kind: RegistryFault;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: RegistryFault, message: string, options: RegistryErrorOptions = {}) {
    const { status: _status, retryAfterMs: _retryAfterMs, ...base } = options;
    super(kind === 'digest-mismatch' ? 'DIGEST_MISMATCH' : 'PULL_FAILED', message, kind === 'digest-mismatch' ? base : { ...base, fault: kind });
    this.name = 'RegistryError';
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Only transient faults are worth a second try; the others give the same answer again. */
  get retryable(): boolean {
    return this.kind === 'transient';
  }
}

export function isRegistryError(value: unknown): value is RegistryError {
  return value instanceof RegistryError;
}

/** The fault an HTTP error status means. 401 reaches here only after the auth handshake has been tried. */
export function faultForStatus(status: number): RegistryFault {
  if (status === 404) return 'not-found';
  if (status === 401 || status === 403) return 'denied';
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  return 'invalid';
}

// Node's codes for a host that cannot be reached by name or route. A refused connection is transient (a registry
// restarting), as the shared FaultKind defines it.
const UNREACHABLE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$)/;

/**
 * The fault a socket error means: no such host or route, or a TLS certificate we will not trust, is `unreachable`
 * (a blocked mirror; the caller moves on); a refused, reset, hung-up or timed-out connection is `transient`.
 */
export function faultForNetworkError(code: string | undefined): RegistryFault {
  if (code !== undefined && (UNREACHABLE_CODES.has(code) || TLS_CODE.test(code))) return 'unreachable';
  return 'transient';
}

/**
 * `Retry-After` in milliseconds from now: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or
 * unreadable, so the caller falls back to its own backoff.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its weekday or month; bare numbers of other shapes are not dates, whatever Date.parse says.
  if (!/[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** The delay before retry `attempt`: our backoff, or longer when the registry asked for longer. */
export function retryDelay(backoffMs: number, retryAfterMs: number | undefined): number {
  return retryAfterMs === undefined ? backoffMs : Math.max(backoffMs, retryAfterMs);
}

/**
 * The registry's own words from an error body (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…"}]}`), or the
 * start of a text body; empty when it said nothing useful.
 */
export function registryErrorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: unknown; message?: unknown }[] };
    if (Array.isArray(parsed.errors)) {
      return parsed.errors
        .map((entry) => [entry.code, entry.message].filter((part) => typeof part === 'string' && part !== '').join(': '))
        .filter((text) => text !== '')
        .join('; ');
    }
  } catch {
    // Not JSON: fall through to the text itself.
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 200);
}
