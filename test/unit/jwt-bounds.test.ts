import { afterEach, describe, expect, it, vi } from 'vitest';
import { JwtIdentityCache } from '../../src/auth/jwt/identity-cache.ts';
import { InvalidTokenLimit } from '../../src/auth/jwt/invalid-token-limit.ts';

describe('the per-address bound on invalid JWTs', () => {
  const clock = (start = 1_000_000) => {
    const c = { t: start, now: () => c.t };
    return c;
  };

  it('when an address reaches the limit, then it is blocked until its window ends, and only the reaching failure reports it', () => {
    const c = clock();
    const limit = new InvalidTokenLimit(3, 60_000, 100, c.now);
    expect([limit.record('a'), limit.record('a')]).toEqual([false, false]);
    expect(limit.blockedFor('a')).toBe(0);
    expect(limit.record('a')).toBe(true);
    c.t += 10_000;
    expect(limit.blockedFor('a')).toBe(50_000);
    expect(limit.blockedFor('b')).toBe(0);
    expect(limit.record('a')).toBe(false); // already over: no second report
    c.t += 50_000;
    expect(limit.blockedFor('a')).toBe(0);
    expect(limit.record('a')).toBe(false); // a new window starts at one
  });

  it('when more addresses arrive than it keeps, then the first seen is forgotten (memory stays bounded)', () => {
    const c = clock();
    const limit = new InvalidTokenLimit(1, 60_000, 2, c.now);
    limit.record('a');
    limit.record('b');
    limit.record('c');
    expect(limit.blockedFor('a')).toBe(0);
    expect(limit.blockedFor('b')).toBeGreaterThan(0);
    expect(limit.blockedFor('c')).toBeGreaterThan(0);
  });
});

describe('the JWT identity cache', () => {
  afterEach(() => vi.useRealTimers());

  it('when an entry reaches its own deadline, then it is gone; a deadline already past is never stored', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 0 });
    const cache = new JwtIdentityCache<string>();
    cache.set('short', 'a', 1_000);
    cache.set('long', 'b', 60_000);
    cache.set('dead', 'c', 0);
    expect(cache.size).toBe(2);
    vi.setSystemTime(999);
    expect(cache.get('short')).toBe('a');
    vi.setSystemTime(1_000);
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBe('b');
    expect(cache.get('dead')).toBeUndefined();
  });

  it('when it is full, then the oldest entry makes room; replacing an entry does not evict another', () => {
    const cache = new JwtIdentityCache<number>(2);
    const later = Date.now() + 60_000;
    cache.set('a', 1, later);
    cache.set('b', 2, later);
    cache.set('b', 3, later);
    expect([cache.get('a'), cache.get('b')]).toEqual([1, 3]);
    cache.set('c', 4, later);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 3, 4]);
  });
});
