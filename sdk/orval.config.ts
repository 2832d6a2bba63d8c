// orval configuration for a Tessera client (fetch). `npx orval --config sdk/orval.config.ts`
// writes it to $ORVAL_OUTPUT (default generated-client/orval/tessera.ts); see docs/sdk.md.
import { defineConfig, type InputTransformerFn } from 'orval';

/** The run routes' streaming twins: orval reads bodies whole, so these go through a fetch that yields typed events. */
const STREAMING = ['streamChatMessage', 'streamCompletionMessage', 'streamWorkflowRun'];

type Content = Record<string, unknown>;
type Operation = { responses?: Record<string, { content?: Content }> };

/**
 * A run route answers JSON (blocking) or a stream (streaming). orval would type its data as
 * either; the blocking call keeps the JSON answer, since its stream is the `…/stream` operation's.
 */
const blockingAnswersJson: InputTransformerFn = (spec) => {
  for (const item of Object.values(spec.paths ?? {})) {
    for (const op of Object.values(item as Record<string, Operation>)) {
      for (const response of Object.values(op.responses ?? {})) {
        if (response.content?.['application/json'] && response.content['text/event-stream']) delete response.content['text/event-stream'];
      }
    }
  }
  return spec;
};

export default defineConfig({
  tessera: {
    input: { target: '../openapi.yaml', override: { transformer: blockingAnswersJson } },
    output: {
      target: process.env.ORVAL_OUTPUT ?? '../generated-client/orval/tessera.ts',
      mode: 'single',
      client: 'fetch',
      // The server's address is the caller's, read at call time: TESSERA_BASE_URL=http://host:port/openapi/v1.
      baseUrl: { runtime: 'process.env.TESSERA_BASE_URL' },
      override: {
        operations: Object.fromEntries(STREAMING.map((op) => [op, { mutator: { path: './orval-sse.ts', name: 'sseFetch', inferred: true } }])),
      },
    },
  },
});
