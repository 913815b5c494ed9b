// What the Docker engine's failures mean, decided once, where they are read: a connection that cannot be made or was
// lost is the engine's fault (DOCKER_*); a refused pull is the registry's answer, passed on by the engine, and gets a
// FaultKind that retries and mirror fallbacks decide on (core/retry.ts, app/pull-images.ts).

import { KfbundleError, type FaultKind } from '../core/errors.js';
import { EngineHttpError } from './engine-raw-get.js';
import { errnoOf } from './system-errors.js';

export interface EngineContext {
  /** How messages name the engine: `unix:///var/run/docker.sock`, `tcp://host:2375`. */
  engine: string;
  /** What was under way, for the message: `while pulling gcr.io/x:1`, or empty. */
  doing: string;
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTSOCK']);
const DENIED = new Set(['EACCES', 'EPERM']);
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export const ENGINE_UNREACHABLE_HINT = 'start Docker, or point --docker-host / DOCKER_HOST at a running engine';
export const ENGINE_LOST_HINT =
  'the engine stopped or restarted (check `docker info` and its log, e.g. journalctl -u docker); once it runs, build again: images already pulled are kept';

/**
 * The KfbundleError for a connection to the engine that failed or broke, with `cause` set; undefined when the error
 * is not about the connection (an HTTP answer, or a bug).
 */
export function engineConnectionFault(error: unknown, context: EngineContext): KfbundleError | undefined {
  const errno = errnoOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  const during = context.doing === '' ? '' : ` ${context.doing}`;
  if (errno !== undefined && DENIED.has(errno)) {
    return new KfbundleError('DOCKER_PERMISSION_DENIED', `permission denied connecting to the Docker engine at ${context.engine}${during}`, {
      hint: 'add your user to the docker group (sudo usermod -aG docker $USER, then log in again), run as root, or point --docker-host at an engine you may use',
      cause: error,
    });
  }
  if (errno !== undefined && UNREACHABLE.has(errno)) {
    return new KfbundleError('DOCKER_UNREACHABLE', `cannot reach the Docker engine at ${context.engine}${during}: ${detail}`, {
      hint: ENGINE_UNREACHABLE_HINT,
      cause: error,
    });
  }
  // Node names a response cut short "aborted" (ECONNRESET) or a premature close, depending on where it was cut.
  const code = (error as { code?: unknown } | null)?.code;
  if ((errno !== undefined && LOST.has(errno)) || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new KfbundleError('DOCKER_CONNECTION_LOST', `the Docker engine at ${context.engine} closed the connection${during} (${detail})`, {
      hint: ENGINE_LOST_HINT,
      cause: error,
    });
  }
  return undefined;
}

/** The engine's HTTP status and its message, from an error dockerode (or engine-raw-get.ts) raised for an answer. */
export function engineAnswerOf(error: unknown): { status: number; message: string } | undefined {
  if (error instanceof EngineHttpError) return { status: error.statusCode, message: error.engineMessage };
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status !== 'number') return undefined;
  const json = (error as { json?: unknown }).json as { message?: unknown } | null | undefined;
  if (typeof json?.message === 'string') return { status, message: json.message.trim() };
  // dockerode's own wording around the engine's: `(HTTP code 404) unexpected - <the engine's message> `.
  const text = error instanceof Error ? error.message : String(error);
  const message = /^\(HTTP code \d+\) [^-]*- ([\s\S]*)$/.exec(text)?.[1] ?? text;
  return { status, message: message.trim() };
}

export interface PullFailureClass {
  kind: FaultKind;
  hint: string;
}

const HINTS: Record<FaultKind, string> = {
  'not-found': 'check the image name and tag, or add a --mirror that has it',
  denied: 'log in to the registry (docker login REGISTRY; kfbundle sends the credentials in ~/.docker/config.json), or add a --mirror you may read',
  unreachable: 'this registry cannot be used from here: add --mirror SRC=DST for one you can reach',
  invalid: 'fix the image reference in the manifests, or override it in the bundle spec',
  transient: 'the registry failed or throttled the pull, and kfbundle tried again (--attempts); try later, or add a --mirror',
};

/**
 * How a refused pull will behave on another try, from the engine's answer: its HTTP status, or for a 500 or an
 * in-band `errorDetail` (which come without a usable code) the registry's message the engine passes on.
 */
export function classifyPullFailure(answer: { status?: number | undefined; message: string }): PullFailureClass {
  const { status, message } = answer;
  const kind = (k: FaultKind, hint = HINTS[k]): PullFailureClass => ({ kind: k, hint });
  if (status === 404) return kind('not-found');
  if (status === 401 || status === 403) return kind('denied');
  if (status === 400) return kind('invalid');
  if (/invalid reference/i.test(message)) return kind('invalid');
  if (/no such host/i.test(message)) return kind('unreachable');
  if (/server gave HTTP response to HTTPS client/i.test(message)) {
    return kind('unreachable', "the registry speaks plain HTTP: list it under insecure-registries in the engine's daemon.json, or use another --mirror");
  }
  if (/x509:|certificate signed by unknown authority/i.test(message)) {
    return kind('unreachable', "the engine does not trust the registry's certificate: put its CA in /etc/docker/certs.d/HOST/ca.crt, or use another --mirror");
  }
  if (/denied|unauthorized|authentication required/i.test(message)) return kind('denied');
  if (/not found|manifest unknown|name unknown|unknown blob|blob unknown|repository does not exist/i.test(message)) return kind('not-found');
  return kind('transient');
}

/** The PULL_FAILED error for an answer the engine gave about a pull, classified. */
export function pullFailure(ref: string, answer: { status?: number | undefined; message: string }, cause?: unknown): KfbundleError {
  const { kind, hint } = classifyPullFailure(answer);
  return new KfbundleError('PULL_FAILED', `pull of ${ref} failed: ${answer.message}`, { fault: kind, hint, ...(cause === undefined ? {} : { cause }) });
}
