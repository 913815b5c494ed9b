// Bounded retries with exponential backoff and full jitter. Sleep and randomness are parameters so tests are exact.

import { isKfbundleError } from './errors.js';

export interface RetryOptions {
  /** Total tries, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Returns a number in [0, 1). */
  random: () => number;
  isRetryable: (error: unknown) => boolean;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  signal?: AbortSignal | undefined;
}

/** The delay before retry number `attempt` (1-based): uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelay(attempt: number, options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * options.random());
}

export async function retry<T>(task: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      if (attempt >= options.attempts || options.signal?.aborted || !options.isRetryable(error)) throw error;
      const delayMs = backoffDelay(attempt, options);
      options.onRetry?.({ attempt, delayMs, error });
      await options.sleep(delayMs, options.signal);
    }
  }
}

/**
 * Only a fault the adapter classified as transient is tried again. Not found, denied, invalid and unreachable answers
 * will not change on a second try (an unreachable source is left for the next mirror or the origin), and an error
 * nobody classified is no registry's answer at all: trying it again would only repeat it.
 */
export function isRetryablePullError(error: unknown): boolean {
  return isKfbundleError(error) && error.fault === 'transient';
}
