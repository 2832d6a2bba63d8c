import type { Database } from '../db.ts';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'stopped';

export interface ConversationRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

export interface MessageRow {
  id: string;
  conversation_id: string | null;
  query: string;
  answer: string;
  inputs: Record<string, string | number | null>;
  usage: Usage;
  status: RunStatus;
  created_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MESSAGE_COLUMNS = 'id, conversation_id, query, answer, inputs, usage, status, created_at';

/** Chat conversations and the messages of chat and completion runs, always scoped to one subject. */
export class ConversationRepo {
  constructor(private readonly db: Database) {}

  async create(appId: string, subject: string, name: string): Promise<ConversationRow> {
    const row = await this.db.one<ConversationRow>(
      'INSERT INTO conversations (app_id, subject, name) VALUES ($1, $2, $3) RETURNING id, name, created_at, updated_at',
      [appId, subject, name],
    );
    return row!;
  }

  /** Undefined for another subject's or another app's conversation: callers answer 404 either way. */
  async find(appId: string, subject: string, id: string): Promise<ConversationRow | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.db.one<ConversationRow>(
      'SELECT id, name, created_at, updated_at FROM conversations WHERE id = $1 AND app_id = $2 AND subject = $3',
      [id, appId, subject],
    );
  }

  async list(appId: string, subject: string, limit: number, offset: number): Promise<{ rows: ConversationRow[]; total: number }> {
    return this.db.page<ConversationRow>({
      columns: 'id, name, created_at, updated_at',
      from: 'conversations WHERE app_id = $1 AND subject = $2',
      orderBy: 'updated_at DESC, id',
      values: [appId, subject],
      limit,
      offset,
    });
  }

  async history(conversationId: string, max: number): Promise<MessageRow[]> {
    const rows = await this.db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND status = 'succeeded' ORDER BY created_at DESC, id LIMIT $2`,
      [conversationId, max],
    );
    return rows.reverse();
  }

  async messages(conversationId: string, limit: number, offset: number): Promise<{ rows: MessageRow[]; total: number }> {
    return this.db.page<MessageRow>({
      columns: MESSAGE_COLUMNS,
      from: "messages WHERE conversation_id = $1 AND status <> 'running'",
      orderBy: 'created_at, id',
      values: [conversationId],
      limit,
      offset,
    });
  }

  async startMessage(m: { appId: string; subject: string; conversationId: string | null; query: string; inputs: object }): Promise<MessageRow> {
    const row = await this.db.one<MessageRow>(
      `INSERT INTO messages (app_id, subject, conversation_id, query, inputs, status) VALUES ($1, $2, $3, $4, $5, 'running')
       RETURNING ${MESSAGE_COLUMNS}`,
      [m.appId, m.subject, m.conversationId, m.query, m.inputs],
    );
    return row!;
  }

  async finishMessage(id: string, f: { answer: string; usage: Usage; status: RunStatus; error: string | null }): Promise<void> {
    const row = await this.db.one<{ conversation_id: string | null }>(
      'UPDATE messages SET answer = $2, usage = $3, status = $4, error = $5 WHERE id = $1 RETURNING conversation_id',
      [id, f.answer, f.usage, f.status, f.error],
    );
    if (row?.conversation_id) await this.db.query('UPDATE conversations SET updated_at = now() WHERE id = $1', [row.conversation_id]);
  }
}
