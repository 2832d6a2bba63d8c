// What a consumer's smoke session through a generated client reports (see ../e2e/generated-clients.test.ts).
export interface Session {
  me: string;
  apps: number;
  appName: string;
  blocking: { answer: string; conversation: string };
  streamed: { answer: string; tokens: number; events: string[] };
  missing: { status: number; error: string };
}
