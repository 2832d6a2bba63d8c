import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STORE_SCRIPTS } from '../../src/store-scripts.ts';
import { hashTag, slotError } from '../../src/storage/store/hash-tag.ts';
import { MemoryStore, type StoreScript } from '../../src/storage/store/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The names of every store script declared under src/, read from the sources (`…: StoreScript<…> = { name: '…'`). */
function declaredScripts(): string[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'src'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.endsWith('.ts'));
  const names: string[] = [];
  for (const f of files) {
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    const declarations = [...text.matchAll(/\bStoreScript<[^=;()]*>\s*=/g)].length;
    const named = [...text.matchAll(/\bStoreScript<[^=;()]*>\s*=\s*\{\s*name:\s*['"`]([^'"`]+)['"`]/g)].map((m) => m[1]!);
    // A declaration in another form would slip past the check below: make it fail here instead.
    expect(named.length, `${f}: declare each StoreScript as an object literal whose first property is its name`).toBe(declarations);
    names.push(...named);
  }
  return names;
}

/** The arguments of each `redis.call(…)` / `redis.pcall(…)`, split at top-level commas. */
function redisCalls(lua: string): string[][] {
  const calls: string[][] = [];
  for (const m of lua.matchAll(/redis\.p?call\(/g)) {
    const args: string[] = [];
    let depth = 0;
    let current = '';
    for (const ch of lua.slice(m.index + m[0].length)) {
      if (depth === 0 && (ch === ',' || ch === ')')) {
        args.push(current.trim());
        current = '';
        if (ch === ')') break;
        continue;
      }
      if (ch === '(' || ch === '{') depth++;
      if (ch === ')' || ch === '}') depth--;
      current += ch;
    }
    calls.push(args);
  }
  return calls;
}

const KEYLESS = new Set(['TIME', 'PING', 'ECHO']);
/** Commands whose every argument is a key. */
const ALL_KEYS = new Set(['DEL', 'UNLINK', 'EXISTS', 'MGET', 'TOUCH']);

/** Key arguments that are not taken from KEYS (directly or through a `local x = KEYS[n]`), and the highest KEYS index used. */
function keyProblems(lua: string): { problems: string[]; highestKey: number } {
  const aliases = new Set([...lua.matchAll(/local\s+(\w+)\s*=\s*KEYS\[\d+\]\s*$/gm)].map((m) => m[1]!));
  const fromKeys = (arg: string) => /^KEYS\[\d+\]$/.test(arg) || aliases.has(arg);
  const problems: string[] = [];
  for (const [command, ...args] of redisCalls(lua)) {
    const name = /^'(\w+)'$/.exec(command ?? '')?.[1]?.toUpperCase();
    if (!name) {
      problems.push(`a command that is not a literal: ${command}`);
      continue;
    }
    if (KEYLESS.has(name)) continue;
    const keys = ALL_KEYS.has(name) ? args : args.slice(0, 1);
    for (const k of keys) if (!fromKeys(k)) problems.push(`${name} on a key not from KEYS: ${k}`);
  }
  const highestKey = Math.max(0, ...[...lua.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
  return { problems, highestKey };
}

describe('the store script catalog', () => {
  it('when a script is declared anywhere under src/, then the catalog lists it, once', () => {
    const declared = declaredScripts();
    const listed = STORE_SCRIPTS.map((e) => e.script.name);
    expect(declared.length).toBeGreaterThanOrEqual(9);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...declared].sort());
  });

  it.each(STORE_SCRIPTS.map((e) => [e.script.name, e] as const))('when %s is read, then every key it touches comes from KEYS, and its example passes them all with one hash tag', (_name, { script, example }) => {
    const { problems, highestKey } = keyProblems(script.lua);
    expect(problems).toEqual([]);
    expect(highestKey).toBeGreaterThan(0);
    expect(example.keys).toHaveLength(highestKey);
    expect(slotError(script.name, example.keys)).toBeNull();
    for (const g of example.given) expect(example.keys).toContain(g.key);
  });

  it.each(STORE_SCRIPTS.map((e) => [e.script.name, e] as const))('when %s runs its example on the in-process store, then it gives the documented answer', async (_name, { script, example }) => {
    const store = new MemoryStore();
    try {
      for (const g of example.given) await store.set(g.key, g.value, g.ttlMs);
      expect(await store.run(script, [...example.keys], [...example.args])).toEqual(example.result);
    } finally {
      await store.close();
    }
  });

  it('when the checker reads Lua that builds a key or names one outside KEYS, then it reports it', () => {
    const bad = `local k = 'rl:' .. ARGV[1]
redis.call('GET', k)
redis.call('SET', KEYS[1] .. ':x', 1)
redis.call('DEL', KEYS[1], 'other')
redis.call(ARGV[2], KEYS[1])`;
    expect(keyProblems(bad).problems).toEqual([
      'GET on a key not from KEYS: k',
      "SET on a key not from KEYS: KEYS[1] .. ':x'",
      "DEL on a key not from KEYS: 'other'",
      'a command that is not a literal: ARGV[2]',
    ]);
  });
});

describe('one hash tag per script call', () => {
  it('when keys are read as Redis Cluster does, then only the first non-empty {…} is the tag', () => {
    expect(hashTag('df:{abc}:rec')).toBe('abc');
    expect(hashTag('a{b}{c}')).toBe('b');
    expect(hashTag('a{}{c}')).toBeNull();
    expect(hashTag('plain')).toBeNull();
    expect(hashTag('a{open')).toBeNull();
  });

  const twoKeys: StoreScript<number> = { name: 'test_two_keys', lua: 'return cjson.encode(0)', memory: () => 0 };
  it.each([
    [[], /declares no key/],
    [['df:{a}:rec', 'df:{b}:used'], /keys must share one hash tag/],
    [['x', 'y'], /keys must share one hash tag/],
  ])('when a call passes %j, then the store refuses it before anything runs', async (keys, message) => {
    const store = new MemoryStore();
    await expect(store.run(twoKeys, keys)).rejects.toThrow(message);
    await store.close();
  });

  it('when a call passes one key, or keys with one tag, then it runs', async () => {
    const store = new MemoryStore();
    expect(await store.run(twoKeys, ['anything'])).toBe(0);
    expect(await store.run(twoKeys, ['df:{a}:rec', 'df:{a}:used'])).toBe(0);
    await store.close();
  });
});
