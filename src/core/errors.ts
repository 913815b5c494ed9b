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
  | 'DISK_FULL';

export interface KfbundleErrorOptions {
  /** The next command or flag to try. */
  hint?: string;
  cause?: unknown;
}

export class KfbundleError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: KfbundleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KfbundleError';
    this.code = code;
    this.hint = options.hint;
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
};
