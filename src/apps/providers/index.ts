import { setImmediate as tick } from 'node:timers/promises';
import type { Config } from '../../config.ts';
import { AnswerText } from '../answer-text.ts';
import type { ModelConfig } from '../app-config.ts';
import { clientSpan, recording } from '../../observability/spans.ts';
import { openAiProvider } from './openai.ts';
import { countWords, promptWords, usageOf, type Provider } from './provider.ts';

export * from './provider.ts';

export type Providers = Record<ModelConfig['provider'], Provider>;

/**
 * The built-in model: answers with the last user turn, one word per delta. It is
 * deterministic so demos and tests need no network; usage counts words (prompt =
 * every turn sent, completion = the answer).
 */
export const echoProvider: Provider = {
  async complete({ messages, signal, onDelta }) {
    const prompt = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const text = new AnswerText();
    for (const piece of words(prompt)) {
      signal.throwIfAborted();
      text.append(piece);
      await onDelta(piece);
      // Yield between words, as a real model would, so a stop or a disconnect lands mid-answer.
      await tick();
    }
    signal.throwIfAborted();
    const answer = text.toString();
    return { answer, usage: usageOf(promptWords(messages), countWords(answer)) };
  },
};

/**
 * Each word keeps its trailing whitespace (the first also the leading), so the
 * deltas concatenate to the prompt exactly. Linear time: a prompt of 100k spaces
 * must not stall the event loop (a pattern with leading optional whitespace
 * before each word backtracks quadratically there).
 */
export function splitWords(text: string): string[] {
  return [...words(text)];
}

/** The same pieces, one at a time: a paused stream holds its position, not a list of every word. */
function* words(text: string): Generator<string> {
  const lead = /^\s*/.exec(text)![0];
  const word = /\S+\s*/g;
  word.lastIndex = lead.length;
  let first = true;
  for (let m = word.exec(text); m; m = word.exec(text)) {
    yield first ? lead + m[0] : m[0];
    first = false;
  }
}

/** The providers an app config can name; the openai one is configured by env (OPENAI_BASE_URL, OPENAI_API_KEY). */
export function createProviders(config: Config): Providers {
  return {
    echo: traced('echo', echoProvider),
    openai: traced('openai', openAiProvider({ baseUrl: config.openai.baseUrl, apiKey: config.openai.apiKey, timeoutMs: config.providerTimeoutMs })),
  };
}

/**
 * The model call as a child span of the request's (when traced), named as OpenTelemetry's
 * generative-AI conventions name it (`chat <model>`). The provider and model only: never
 * the messages or the answer.
 */
function traced(provider: ModelConfig['provider'], p: Provider): Provider {
  return {
    complete(req) {
      if (!recording()) return p.complete(req);
      const attributes = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': provider, 'gen_ai.request.model': req.model.name };
      return clientSpan(`chat ${req.model.name}`, attributes, (ctx) => p.complete({ ...req, trace: ctx }));
    },
  };
}
