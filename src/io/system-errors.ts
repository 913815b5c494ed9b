// Turns the operating system's refusals (Node's `err.code`: EACCES, EROFS, ENOSPC, …) into KfbundleErrors that name
// the file and say what to do. Adapters share it so the same fault reads the same everywhere; anything that is not a
// system error is returned as it is, so a bug still shows as one.

import { KfbundleError, type ErrorCode } from '../core/errors.js';

/** The system error code Node puts on `err.code` (`EACCES`), or undefined for other errors. */
export function errnoOf(error: unknown): string | undefined {
  // A KfbundleError's code is kfbundle's own, whatever it looks like.
  if (error instanceof KfbundleError) return undefined;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

export interface FileFaultContext {
  /** What the file is to the user: `the Docker config`, `the key`, `bundle file`. */
  what: string;
  path: string;
  action: 'read' | 'write';
  /** What to do when the file does not exist (reading), e.g. `make a key pair with kfbundle keygen`. */
  missingHint?: string;
}

interface FileFault {
  code: ErrorCode;
  message: string;
  hint: string;
}

function describeFileFault(errno: string, context: FileFaultContext, osMessage: string): FileFault {
  const { what, path, action } = context;
  const named = `${what} "${path}"`;
  const doing = action === 'read' ? 'reading' : 'writing';
  switch (errno) {
    case 'ENOENT':
    case 'ENOTDIR':
      return action === 'read'
        ? { code: 'INPUT_NOT_FOUND', message: `${what} not found: "${path}"`, hint: context.missingHint ?? 'check the path' }
        : { code: 'INPUT_NOT_FOUND', message: `cannot write ${named}: a directory on its path does not exist`, hint: 'create the directory first, or choose another path' };
    case 'EISDIR':
      return { code: 'INPUT_NOT_FOUND', message: `${named} is a directory, not a file`, hint: 'name the file itself' };
    case 'EACCES':
    case 'EPERM':
      return {
        code: 'PERMISSION_DENIED',
        message: `permission denied ${doing} ${named}`,
        hint: `check the owner and mode of "${path}" and the directories above it (ls -ld), or run as a user who may ${action} it`,
      };
    case 'EROFS':
      return {
        code: 'READ_ONLY_FILE_SYSTEM',
        message: `cannot write ${named}: the file system is read-only`,
        hint: 'choose a location on a writable disk, or remount it read-write',
      };
    case 'ENOSPC':
    case 'EDQUOT':
      return {
        code: 'DISK_FULL',
        message: `no space left on the device (or quota exceeded) while writing ${named}`,
        hint: 'free space on that disk, or choose a location on another one',
      };
    case 'EMFILE':
    case 'ENFILE':
      return {
        code: 'TOO_MANY_OPEN_FILES',
        message: `too many open files while ${doing} ${named}`,
        hint: 'raise the limit on open files (ulimit -n 65536) and run again',
      };
    case 'EIO':
      return {
        code: 'IO_ERROR',
        message: `input/output error ${doing} ${named}`,
        hint: 'the disk or its connection is failing: check the kernel log (dmesg), and use another disk',
      };
    default:
      return { code: 'IO_ERROR', message: `${doing} ${named} failed: ${osMessage}`, hint: `the system refused with ${errno}` };
  }
}

/**
 * The KfbundleError for a failed file operation, with `cause` set; the error itself when it is not a system error.
 * Use as `catch (error) { throw fileFault(error, {…}) }`.
 */
export function fileFault(error: unknown, context: FileFaultContext): unknown {
  const errno = errnoOf(error);
  if (errno === undefined) return error;
  const fault = describeFileFault(errno, context, error instanceof Error ? error.message : String(error));
  return new KfbundleError(fault.code, fault.message, { hint: fault.hint, cause: error });
}

// Refusals of the file system itself (a disk, its permissions, its limits), as opposed to a network peer's errno
// (ECONNRESET) that a stream passing through a file writer may carry.
const FILE_SYSTEM_REFUSALS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO', 'ENOTDIR']);

export function isFileSystemRefusal(error: unknown): boolean {
  return FILE_SYSTEM_REFUSALS.has(errnoOf(error) ?? '');
}

/** Whether the file is simply not there (a missing file, or a path through something that is not a directory). */
export function isMissingFile(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno === 'ENOENT' || errno === 'ENOTDIR';
}
