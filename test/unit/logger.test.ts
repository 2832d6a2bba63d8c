import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLogFormat } from '../../src/logger.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('log format and destination', () => {
  it.each([
    ['auto', 'development', true, 'pretty'],
    ['auto', 'test', true, 'pretty'],
    ['auto', 'production', true, 'json'],
    ['auto', 'development', false, 'json'],
    ['json', 'development', true, 'json'],
    ['pretty', 'production', false, 'pretty'],
  ] as const)('when LOG_FORMAT=%s, NODE_ENV=%s and stderr is a terminal: %s, then the format is %s', (setting, env, tty, format) => {
    expect(resolveLogFormat(setting, env, tty)).toBe(format);
  });

  it('when a line is logged, then it goes to stderr as JSON with secrets redacted, and stdout stays empty', async () => {
    const script = `
      import { createLogger } from './src/logger.ts';
      createLogger('info').info({ token: 'tsa_secret', req: { headers: { authorization: 'Bearer x' } } }, 'hello');
      createLogger('info', undefined, 'pretty').warn('readable');`;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT }, (err, out, errOut) =>
        err ? reject(err) : resolve({ stdout: out, stderr: errOut }),
      ),
    );
    expect(stdout).toBe('');
    const [json, pretty] = stderr.trim().split('\n');
    expect(JSON.parse(json!)).toMatchObject({ level: 30, msg: 'hello', token: '[redacted]', req: { headers: { authorization: '[redacted]' } } });
    expect(pretty).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: readable$/);
  });
});
