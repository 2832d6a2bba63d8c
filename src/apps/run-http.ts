import type { Request, Response } from 'express';
import { toApiError } from '../http/error-mapper.ts';
import type { Services } from '../services.ts';
import type { PreparedRun } from './run-service.ts';
import { discard, openEventStream } from './sse.ts';

// Set before res.json so response validation picks the JSON schema even when the client also accepts SSE.
export const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8' };

/**
 * Answers a prepared run in the requested mode. Blocking resolves with the outcome
 * for the handler to shape; streaming writes the events itself and resolves
 * undefined. Either way a client that goes away stops the run.
 */
export async function answerRun<R, E>(
  s: Services,
  req: Request,
  res: Response,
  run: PreparedRun<R, E>,
  streaming: boolean,
): Promise<R | undefined> {
  res.on('close', () => {
    if (!res.writableFinished) run.abort('disconnected');
  });
  // The client may have left while the run was being prepared, before anyone listened.
  if (req.socket.destroyed) run.abort('disconnected');
  if (!streaming) return run.execute(discard);
  const stream = openEventStream<E>(res, run.taskId, {
    pingMs: s.config.ssePingIntervalMs,
    stallMs: s.config.sseStallTimeoutMs,
    onStall: () => run.abort('stalled'),
  });
  try {
    await run.execute(stream);
  } catch (err) {
    // Headers are sent: a failure becomes the stream's last event, never a hang.
    const e = toApiError(err, s.log, req.id);
    stream.send({ event: 'error', task_id: run.taskId, status: e.status, code: e.code, message: e.message } as E);
  } finally {
    stream.close();
  }
  return undefined;
}
