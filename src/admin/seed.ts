import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import { hashPassword } from '../console/signin.ts';
import type { Database } from '../storage/db.ts';
import { AccountRepo } from '../storage/repos/accounts.ts';
import { createApp } from './apps-admin.ts';

export const DEMO_EMAIL = 'demo@tessera.local';

export interface DemoSeed {
  email: string;
  password: string;
  workspaceId: string;
  apps: { id: string; name: string; mode: string }[];
}

/** Exported so tests run exactly these configs. */
export const DEMO_APPS = [
  {
    name: 'Demo chat',
    mode: 'chat' as const,
    description: 'A chat app on the built-in echo model, which repeats your message. Point it at an OpenAI-compatible model for real answers.',
    tags: ['demo'],
    config: {
      model: { provider: 'echo', name: 'echo-1' },
      system_prompt: 'You are a {{ tone | default: "plain" }} assistant.',
      // The echo model repeats the prompt: say so, or the demo looks broken.
      prompt: '(Built-in echo model: it repeats your message.) {{ query }}',
      input_schema: [{ variable: 'tone', label: 'Tone', type: 'select', required: false, options: ['plain', 'friendly'] }],
    },
  },
  {
    name: 'Demo completion',
    mode: 'completion' as const,
    description: 'Writes a one-line summary of a topic.',
    tags: ['demo'],
    config: {
      model: { provider: 'echo', name: 'echo-1' },
      prompt: 'Summarise {{ topic }} in one line.',
      input_schema: [{ variable: 'topic', label: 'Topic', type: 'text', required: true, max_length: 200 }],
    },
  },
  {
    name: 'Demo workflow',
    mode: 'workflow' as const,
    description: 'Greets a name in two steps.',
    tags: ['demo'],
    config: {
      model: { provider: 'echo', name: 'echo-1' },
      input_schema: [{ variable: 'name', label: 'Name', type: 'text', required: true, max_length: 100 }],
      steps: [
        { id: 'greet', type: 'template', template: 'Hello, {{ name }}!', output: 'greeting' },
        { id: 'reply', type: 'llm', prompt: '{{ greeting }}', output: 'answer' },
        { id: 'finish', type: 'end', outputs: { greeting: 'greeting', answer: 'answer' } },
      ],
    },
  },
];

/**
 * Seeds the demo workspace on an empty database; the password is returned once and
 * stored only as a hash. A seed that fails half-way is undone, so the next start
 * sees an empty database again and seeds (and prints) afresh.
 */
export async function seedDemo(db: Database, config: Config): Promise<DemoSeed> {
  const accounts = new AccountRepo(db);
  const password = randomBytes(12).toString('base64url');
  const account = await accounts.create(DEMO_EMAIL, 'Demo User', await hashPassword(config, password));
  let workspaceId: string | undefined;
  try {
    workspaceId = (await accounts.createWorkspace('Demo')).id;
    await accounts.addMember(account.id, workspaceId, 'owner');
    const apps = [];
    for (const a of DEMO_APPS) {
      const app = await createApp(db, { workspaceId, ...a });
      apps.push({ id: app.id, name: app.name, mode: app.mode });
    }
    return { email: DEMO_EMAIL, password, workspaceId, apps };
  } catch (err) {
    await accounts.remove(account.id, workspaceId).catch(() => undefined);
    throw err;
  }
}
