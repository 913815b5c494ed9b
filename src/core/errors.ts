// One error type for every failure the user can act on; the CLI maps its code to an exit status.

export type ErrorCode =
  | 'USAGE'
  | 'SPEC_INVALID'
  | 'RELEASE_INVALID'
  | 'INPUT_NOT_FOUND'
  | 'MANIFEST_INVALID'
  | 'KUSTOMIZE_FAILED'
  | 'IMAGE_REF_INVALID'
  | 'MIRROR_INVALID'
  | 'DOCKER_UNREACHABLE'
  | 'PULL_FAILED'
  | 'DIGEST_MISMATCH'
  | 'SAVE_FAILED'
  | 'OUTPUT_EXISTS'
  | 'BUNDLE_FORMAT'
  | 'CHECKSUM_MISMATCH'
  | 'SIGNATURE_INVALID'
  | 'KEY_EXISTS'
  | 'RELOCATION_INCOMPLETE'
  | 'DISK_FULL'
  | 'DOCKER_CONFIG_INVALID'
  | 'DOCKER_PERMISSION_DENIED'
  | 'DOCKER_CONNECTION_LOST'
  | 'DOCKER_API_TOO_OLD'
  | 'KUSTOMIZE_NOT_FOUND'
  | 'RELEASE_DOWNLOAD_FAILED'
  | 'SPLIT_TOO_MANY_PARTS'
  | 'PERMISSION_DENIED'
  | 'READ_ONLY_FILE_SYSTEM'
  | 'TOO_MANY_OPEN_FILES'
  | 'IO_ERROR';

/**
 * How a refusal from a remote party (a registry, through the engine) behaves on a second try. It is decided once, by
 * the adapter that reads the answer, so retries and fallbacks decide on it and never on message text.
 */
export type FaultKind =
  /** What was asked for is not there (404, manifest unknown): no try will find it at this source. */
  | 'not-found'
  /** Access refused (401, 403, denied, unauthorized): it takes other credentials. */
  | 'denied'
  /** The source cannot be used from here (its name does not resolve, its certificate is not trusted): the next mirror or the origin may work. */
  | 'unreachable'
  /** The request itself is malformed (an invalid reference): it needs another name. */
  | 'invalid'
  /** Anything that may pass on another try: throttling (429), 5xx, timeouts, refused or reset connections. */
  | 'transient';

export interface KfbundleErrorOptions {
  /** The next command or flag to try. */
  hint?: string;
  cause?: unknown;
  /** Set by the adapter that read a remote party's refusal; see FaultKind. */
  fault?: FaultKind;
}

export class KfbundleError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly fault: FaultKind | undefined;

  constructor(code: ErrorCode, message: string, options: KfbundleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KfbundleError';
    this.code = code;
    this.hint = options.hint;
    this.fault = options.fault;
  }
}

export function isKfbundleError(value: unknown): value is KfbundleError {
  return value instanceof KfbundleError;
}

/** Exit statuses are part of the CLI contract (docs/exit-codes.md); 1 is reserved for bugs. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  USAGE: 2,
  SPEC_INVALID: 3,
  RELEASE_INVALID: 3,
  INPUT_NOT_FOUND: 3,
  MANIFEST_INVALID: 3,
  KUSTOMIZE_FAILED: 3,
  IMAGE_REF_INVALID: 3,
  MIRROR_INVALID: 2,
  DOCKER_UNREACHABLE: 4,
  PULL_FAILED: 5,
  DIGEST_MISMATCH: 5,
  SAVE_FAILED: 6,
  OUTPUT_EXISTS: 7,
  BUNDLE_FORMAT: 8,
  CHECKSUM_MISMATCH: 9,
  SIGNATURE_INVALID: 10,
  KEY_EXISTS: 7,
  RELOCATION_INCOMPLETE: 3,
  DISK_FULL: 11,
  DOCKER_CONFIG_INVALID: 3,
  DOCKER_PERMISSION_DENIED: 4,
  DOCKER_CONNECTION_LOST: 4,
  DOCKER_API_TOO_OLD: 4,
  KUSTOMIZE_NOT_FOUND: 3,
  RELEASE_DOWNLOAD_FAILED: 3,
  SPLIT_TOO_MANY_PARTS: 2,
  PERMISSION_DENIED: 12,
  READ_ONLY_FILE_SYSTEM: 12,
  TOO_MANY_OPEN_FILES: 12,
  IO_ERROR: 12,
};

/** Failures of the engine itself rather than of an image's source: no other mirror can help with them. */
export const ENGINE_FAILURES: ReadonlySet<ErrorCode> = new Set(['DOCKER_UNREACHABLE', 'DOCKER_PERMISSION_DENIED', 'DOCKER_CONNECTION_LOST', 'DOCKER_API_TOO_OLD']);

/** This machine refused (the blob cache's disk, open files): another source or a retry cannot help. */
export const LOCAL_FAILURES: ReadonlySet<ErrorCode> = new Set(['PERMISSION_DENIED', 'READ_ONLY_FILE_SYSTEM', 'TOO_MANY_OPEN_FILES', 'IO_ERROR', 'DISK_FULL']);
