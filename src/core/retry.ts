// Bounded retries with exponential backoff and full jitter. Sleep and randomness are parameters so tests are exact.

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

// Answers that will not change on a second try: the image is absent, we may not read it, or the registry's name does
// not resolve (a blocked registry; the next mirror or the origin is tried instead).
const PERMANENT_PULL_FAILURE = /not found|manifest unknown|name unknown|denied|unauthorized|invalid reference|repository does not exist|no such host/i;

export function isRetryablePullError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return !PERMANENT_PULL_FAILURE.test(message);
}
