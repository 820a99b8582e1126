/**
 * Spaces sends evenly at `perSecond` across all of this worker's concurrent handlers.
 * (nodemailer's pool checks its own rate limit only when a connection is reused, so a fresh
 * pool sends a burst of up to `maxConnections` first.) `perSecond` 0 means no limit.
 */
export function createRateLimiter(perSecond: number): (signal?: AbortSignal) => Promise<void> {
  const interval = perSecond > 0 ? 1000 / perSecond : 0;
  let nextSlot = 0;
  return (signal) => {
    if (interval === 0) return Promise.resolve();
    const now = Date.now();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + interval;
    const wait = slot - now;
    if (wait <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, wait);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  };
}
