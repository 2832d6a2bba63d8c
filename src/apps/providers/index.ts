import { setImmediate as tick } from 'node:timers/promises';
import type { Config } from '../../config.ts';
import type { ModelConfig } from '../app-config.ts';
import { openAiProvider } from './openai.ts';
import { countWords, usageOf, type Provider } from './provider.ts';

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
    // Each word keeps its surrounding whitespace so the deltas concatenate to the answer exactly.
    const pieces = prompt.match(/\s*\S+\s*/g) ?? [];
    let answer = '';
    for (const piece of pieces) {
      signal.throwIfAborted();
      answer += piece;
      onDelta(piece);
      // Yield between words, as a real model would, so a stop or a disconnect lands mid-answer.
      await tick();
    }
    signal.throwIfAborted();
    const promptTokens = messages.reduce((n, m) => n + countWords(m.content), 0);
    return { answer, usage: usageOf(promptTokens, countWords(answer)) };
  },
};

/** The providers an app config can name; the openai one is configured by env (OPENAI_BASE_URL, OPENAI_API_KEY). */
export function createProviders(config: Config): Providers {
  return {
    echo: echoProvider,
    openai: openAiProvider({ baseUrl: config.openai.baseUrl, apiKey: config.openai.apiKey, timeoutMs: config.providerTimeoutMs }),
  };
}
