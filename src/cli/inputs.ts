import { readFile } from 'node:fs/promises';
import { usage } from './errors.ts';

/** A file's text for `--input name=@file.txt`: one trailing newline dropped, as a shell's `$(cat file)` would. */
async function valueFromFile(name: string, file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw usage(`Could not read the file for --input ${name}=@${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * `--input-file` (a JSON object) then `--input k=v` pairs on top; `k=@path` reads the
 * value from a file. Values stay as given: the server validates them and reads a
 * numeric string as a number input.
 */
export async function collectInputs(pairs: string[], file: string | undefined): Promise<Record<string, string | number>> {
  const inputs: Record<string, string | number> = {};
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw usage(`Could not read --input-file ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usage(`--input-file ${file} must hold a JSON object.`);
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw usage(`Input ${k} in ${file} must be a string or a number.`);
      inputs[k] = v;
    }
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--input expects name=value or name=@file, got "${pair}".`);
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    inputs[name] = value.startsWith('@') ? await valueFromFile(name, value.slice(1)) : value;
  }
  return inputs;
}
