import type { ServerResponse } from 'node:http';

const HELD = Symbol('held headers');
type Holding = ServerResponse & { [HELD]?: (string | number)[] | undefined };

/**
 * Holds a response's headers in a list of its own until the response is written
 * (docs/performance.md). node keeps the headers of `setHeader` in a map (lower-cased
 * names, a null-prototype object in dictionary mode, walked again to write them): for the
 * dozen headers of an API answer that cost more than the rest of the request's own work.
 * A response whose headers were never set goes out with one `writeHead(status, list)`,
 * which node writes straight from the list. The API way (front-dispatcher.ts) holds;
 * everywhere else `putHeader` is `setHeader`.
 *
 * Whatever writes a held response other than `writeHeld` releases the headers first
 * (`releaseHeaders`): the API surface does so before its error mapper, its OPTIONS and
 * preflight answers and any route but a spec operation, and an operation's handler when
 * it touches the response itself.
 */
export function holdHeaders(res: ServerResponse): void {
  (res as Holding)[HELD] = [];
}

/** Sets a header, or holds it (replacing one of the same name) while the response's headers are held. */
export function putHeader(res: ServerResponse, name: string, value: string | number): void {
  const held = (res as Holding)[HELD];
  if (held === undefined) return void res.setHeader(name, value);
  for (let i = 0; i < held.length; i += 2) {
    const other = held[i] as string;
    if (other === name || (other.length === name.length && other.toLowerCase() === name.toLowerCase())) {
      held[i + 1] = value;
      return;
    }
  }
  held.push(name, value);
}

/** Sets the held headers on the response, in the order they came, and stops holding. */
export function releaseHeaders(res: ServerResponse): void {
  const held = (res as Holding)[HELD];
  if (held === undefined) return;
  (res as Holding)[HELD] = undefined;
  for (let i = 0; i < held.length; i += 2) res.setHeader(held[i] as string, held[i + 1]!);
}

/** Writes the status, the held headers and then `more` (name, value, …), and ends with `body`. */
export function writeHeld(res: ServerResponse, status: number, more: (string | number)[], body: string): void {
  const held = (res as Holding)[HELD];
  if (held === undefined) {
    for (let i = 0; i < more.length; i += 2) res.setHeader(more[i] as string, more[i + 1]!);
    res.statusCode = status;
    return void res.end(body);
  }
  (res as Holding)[HELD] = undefined;
  for (const x of more) held.push(x);
  res.writeHead(status, held as string[]).end(body);
}
