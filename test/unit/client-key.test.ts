import { describe, expect, it } from 'vitest';
import { InvalidTokenLimit } from '../../src/auth/jwt/invalid-token-limit.ts';
import { clientKey } from '../../src/limits/client-key.ts';

describe('the per-client limit key', () => {
  it.each([
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::9', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('when the client is IPv6 %s, then it counts as its /64 %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });

  it('when two IPv6 addresses differ only in their last 64 bits, then they share a key; in their prefix, then they do not', () => {
    expect(clientKey('2001:db8:aaaa:bbbb:1::1')).toBe(clientKey('2001:db8:aaaa:bbbb:9999:8888:7777:6666'));
    expect(clientKey('2001:db8:aaaa:bbbb::1')).not.toBe(clientKey('2001:db8:aaaa:bbbc::1'));
    expect(clientKey('2001:db8:aaaa:bbbb::1')).not.toBe(clientKey('2001:db9:aaaa:bbbb::1'));
  });

  it.each([
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
  ])('when the client is the IPv4-mapped IPv6 %s, then it counts as the IPv4 address', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });

  it('when the client is IPv4, then it counts as itself, and two IPv4 addresses never share a key', () => {
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('10.0.0.1')).not.toBe(clientKey('10.0.0.2'));
    expect(clientKey('192.0.2.1')).toBe(clientKey('::ffff:192.0.2.1'));
  });

  it('when there is no address or it is not an IP, then it is its own key, clipped', () => {
    expect(clientKey(undefined)).toBe('unknown');
    expect(clientKey('')).toBe('unknown');
    expect(clientKey('not-an-ip')).toBe('not-an-ip');
    expect(clientKey('x'.repeat(1000))).toHaveLength(100);
    // Never mistaken for an IPv6 prefix.
    expect(clientKey('2001:db8:1:2:zz::1')).toBe('2001:db8:1:2:zz::1');
  });
});

describe('the invalid-JWT bound counts by the limit key', () => {
  it('when invalid JWTs come from many addresses of one /64, then they fill one window and block the whole /64', () => {
    const limit = new InvalidTokenLimit(3, 60_000, 100, () => 1_000_000);
    expect(limit.record('2001:db8:5:6::1')).toBe(false);
    expect(limit.record('2001:db8:5:6::2')).toBe(false);
    expect(limit.record('2001:db8:5:6:ffff::3')).toBe(true);
    expect(limit.blockedFor('2001:db8:5:6:1234:5678:9abc:def0')).toBe(60_000);
    expect(limit.blockedFor('2001:db8:5:7::1')).toBe(0);
  });

  it('when an IPv4 client also arrives as IPv4-mapped IPv6, then both spellings share its window', () => {
    const limit = new InvalidTokenLimit(2, 60_000, 100, () => 1_000_000);
    limit.record('192.0.2.7');
    expect(limit.record('::ffff:192.0.2.7')).toBe(true);
    expect(limit.blockedFor('192.0.2.7')).toBe(60_000);
    expect(limit.blockedFor('192.0.2.8')).toBe(0);
  });
});
