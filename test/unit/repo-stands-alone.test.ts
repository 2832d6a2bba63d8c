import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SELF = path.relative(ROOT, import.meta.filename);

// Documents this repository does not contain, and phrases that point at one.
const ELSEWHERE = [/\.\.\/shared\//, /\bDESIGN(\.md)?\b/, /\bthe contract\b/i];

describe('the repository stands alone', () => {
  it('when docs, code, tests and scripts are read, then none of them points at a document the repository does not contain', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'README.md', 'docs', 'src', 'test', 'scripts', 'sdk', '.ci'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && f !== SELF && /\.(md|ts|js|sql|liquid|yaml|css)$|^\.ci\//.test(f));
    expect(files.length).toBeGreaterThan(100);
    const hits = files.flatMap((f) =>
      readFileSync(path.join(ROOT, f), 'utf8')
        .split('\n')
        .flatMap((line, i) => (ELSEWHERE.some((re) => re.test(line)) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });
});
