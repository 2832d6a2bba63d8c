import { readFile } from 'node:fs/promises';
import { usage } from './errors.ts';

/**
 * `--inputs-file` (a JSON object) then `--input k=v` pairs on top. Values stay as
 * given: the server validates them and reads a numeric string as a number input.
 */
export async function collectInputs(pairs: string[], file: string | undefined): Promise<Record<string, string | number>> {
  const inputs: Record<string, string | number> = {};
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw usage(`Could not read --inputs-file ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usage(`--inputs-file ${file} must hold a JSON object.`);
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw usage(`Input ${k} in ${file} must be a string or a number.`);
      inputs[k] = v;
    }
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`--input expects key=value, got "${pair}".`);
    inputs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return inputs;
}
