import pg from 'pg';
import { clientSpan, recording } from '../observability/spans.ts';

export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** SQLSTATE class 22 (data exception): a value the database cannot store, e.g. a NUL in text. Bad input, not a bug. */
export class InvalidDataError extends Error {
  constructor(readonly sqlstate: string) {
    super(`the database refused a value (SQLSTATE ${sqlstate})`);
  }
}

function classify(err: unknown): unknown {
  if (isOutage(err)) return new DatabaseUnavailableError(err);
  const code = (err as { code?: string } | null)?.code;
  return err instanceof pg.DatabaseError && code?.startsWith('22') ? new InvalidDataError(code) : err;
}

// SQLSTATE classes that mean "the database is not there", not "the query is wrong".
const OUTAGE_CODES = /^(08|53|57P)/;

function isOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  // SQLSTATE connection/resource classes, or a Node socket error (ECONNREFUSED, ECONNRESET, …).
  if (code) return OUTAGE_CODES.test(code) || /^E[A-Z]+$/.test(code);
  return /timeout|Connection terminated|connect/i.test(err.message);
}

export type Row = Record<string, unknown>;

/**
 * A query as a child span of the request's (when traced), named by its operation, and by
 * its table where the statement's start says it (INSERT INTO, UPDATE, DELETE FROM); with
 * its text, which holds placeholders only (values are always parameters, never exported).
 */
function querySpan<T>(text: string, run: () => Promise<T>): Promise<T> {
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
  const table = /^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]\w*)/i.exec(text)?.[1];
  const attributes = { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': text, ...(table ? { 'db.collection.name': table } : {}) };
  return clientSpan(table ? `${operation} ${table}` : operation, attributes, run);
}

/** The one pg pool; counts queries so tests and the benchmark can prove a warm path makes none. */
/** A query runner inside a transaction (Database.tx). */
export type TxQuery = <R = Row>(text: string, values?: unknown[]) => Promise<R[]>;

export class Database {
  queries = 0;
  readonly pool: pg.Pool;

  constructor(url: string, max = 10) {
    this.pool = new pg.Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: 2_000,
      query_timeout: 10_000,
      idleTimeoutMillis: 30_000,
    });
    this.pool.on('error', () => {
      /* idle client lost; the next checkout reconnects */
    });
  }

  async query<T = Row>(text: string, values: unknown[] = []): Promise<T[]> {
    this.queries++;
    try {
      const res = await (recording() ? querySpan(text, () => this.pool.query(text, values)) : this.pool.query(text, values));
      return res.rows as T[];
    } catch (err) {
      throw classify(err);
    }
  }

  /**
   * One page of a list and its total. The total rides on the page as a window count;
   * only an empty page (past the end) costs a second, counting query.
   */
  async page<T>(q: { columns: string; from: string; orderBy: string; values: unknown[]; limit: number; offset: number }): Promise<{ rows: T[]; total: number }> {
    const n = q.values.length;
    const rows = await this.query<T & { total: string }>(
      `SELECT ${q.columns}, count(*) OVER () AS total FROM ${q.from} ORDER BY ${q.orderBy} LIMIT $${n + 1} OFFSET $${n + 2}`,
      [...q.values, q.limit, q.offset],
    );
    if (!rows[0]) return { rows: [], total: Number((await this.one<{ n: string }>(`SELECT count(*) AS n FROM ${q.from}`, q.values))?.n ?? 0) };
    const total = Number(rows[0].total);
    for (const row of rows) delete (row as { total?: string }).total;
    return { rows, total };
  }

  async one<T = Row>(text: string, values: unknown[] = []): Promise<T | undefined> {
    return (await this.query<T>(text, values))[0];
  }

  /** Runs fn in a transaction on one client. */
  async tx<T>(fn: (q: TxQuery) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw new DatabaseUnavailableError(err);
    }
    const q = async <R,>(text: string, values: unknown[] = []) => {
      this.queries++;
      return (await (recording() ? querySpan(text, () => client.query(text, values)) : client.query(text, values))).rows as R[];
    };
    try {
      await client.query('BEGIN');
      const result = await fn(q);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw classify(err);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
