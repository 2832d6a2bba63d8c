import type { Usage } from '../../storage/repos/conversations.ts';
import type { TraceContext } from '../../observability/spans.ts';
import type { ModelConfig } from '../app-config.ts';

export type { Usage };

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ProviderRequest {
  model: ModelConfig;
  messages: ChatTurn[];
  /** Aborted when the task is stopped or the client goes away. */
  signal: AbortSignal;
  /**
   * Called with each piece of the answer, in order. A promise it returns is awaited
   * before the provider produces (or reads upstream) more: that is how a slow
   * stream reader slows the model down (backpressure).
   */
  onDelta: (text: string) => void | Promise<void>;
  /** The trace context of the request the run serves (carried on to an HTTP provider in `traceparent`). */
  trace?: TraceContext;
}

export interface ProviderResult {
  answer: string;
  usage: Usage;
}

/** One model backend. Every failure is a ProviderError; a stop surfaces as the signal's abort reason. */
export interface Provider {
  complete(req: ProviderRequest): Promise<ProviderResult>;
}

/** A provider failed, answered with an error, or timed out: 502 `provider_error` or an `error` event. */
export class ProviderError extends Error {
  readonly code = 'provider_error';
}

export const countWords = (text: string): number => text.split(/\s+/).filter(Boolean).length;

/** Word-count usage of what was sent: every turn, system prompt and history included. */
export const promptWords = (messages: readonly ChatTurn[]): number => messages.reduce((n, m) => n + countWords(m.content), 0);

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}
