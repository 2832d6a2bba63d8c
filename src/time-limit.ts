/**
 * p's value, or `late` when p has not settled within ms. A rejection of p is passed on.
 * The timer is cleared either way; `unref` lets the process exit while it runs (a CLI).
 */
export async function orAfter<T, L>(p: Promise<T>, ms: number, late: L, o: { unref?: boolean } = {}): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<L>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
    if (o.unref) timer.unref();
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when the promise settled (either way) within ms; never throws, never waits longer. */
export const settleWithin = (p: Promise<unknown>, ms: number): Promise<boolean> =>
  orAfter(
    p.then(
      () => true,
      () => true,
    ),
    ms,
    false,
  );
