import { createParser } from 'eventsource-parser';
import { withTraceContext } from '../../observability/spans.ts';
import { AnswerText } from '../answer-text.ts';
import { countWords, promptWords, ProviderError, usageOf, type Provider, type Usage } from './provider.ts';

export interface OpenAiOptions {
  baseUrl: string;
  apiKey: string | null;
  /** Longest wait for the first byte and between chunks. */
  timeoutMs: number;
}

interface Chunk {
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

/**
 * Any OpenAI-compatible `POST {baseUrl}/chat/completions`, always streamed so
 * blocking and streaming runs share one path and a stop cuts the upstream request.
 * The timeout is an idle timeout: a long answer that keeps flowing is not cut.
 */
export function openAiProvider(o: OpenAiOptions): Provider {
  return {
    async complete({ model, messages, signal, onDelta, trace }) {
      const idle = new AbortController();
      let timer = setTimeout(() => idle.abort(), o.timeoutMs);
      const rearm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), o.timeoutMs);
      };
      const answer = new AnswerText();
      let usage: Usage | null = null;
      // What onDelta asked us to wait for (a stream reader's backpressure).
      const waits: Promise<void>[] = [];
      const take = (chunk: Chunk) => {
        if (chunk.error) throw new ProviderError(`The model provider failed: ${chunk.error.message ?? 'unknown error'}`);
        const choice = chunk.choices?.[0];
        // Postgres text cannot hold NUL; a model that emits one must not break the run's record.
        const delta = (choice?.delta?.content ?? choice?.message?.content)?.replaceAll('\u0000', '');
        if (delta) {
          answer.append(delta);
          const wait = onDelta(delta);
          if (wait) waits.push(wait);
        }
        if (chunk.usage) usage = usageOf(chunk.usage.prompt_tokens ?? 0, chunk.usage.completion_tokens ?? 0);
      };
      try {
        const res = await fetch(`${o.baseUrl}/chat/completions`, {
          method: 'POST',
          // The request carries the trace on (W3C traceparent), so the provider's spans join it.
          headers: withTraceContext({ 'Content-Type': 'application/json', ...(o.apiKey ? { Authorization: `Bearer ${o.apiKey}` } : {}) }, trace),
          body: JSON.stringify({ ...model.params, model: model.name, messages, stream: true, stream_options: { include_usage: true } }),
          signal: AbortSignal.any([signal, idle.signal]),
        });
        if (!res.ok || !res.body) {
          await res.body?.cancel().catch(() => undefined);
          throw new ProviderError(`The model provider answered ${res.status}.`);
        }
        // A provider that ignores `stream: true` answers with one JSON completion instead.
        const sse = (res.headers.get('content-type') ?? '').includes('text/event-stream');
        let failure: unknown = null;
        let whole = '';
        const parser = createParser({
          onEvent(ev) {
            if (failure || ev.data === '[DONE]') return;
            try {
              take(JSON.parse(ev.data) as Chunk);
            } catch (err) {
              failure = err instanceof ProviderError ? err : new ProviderError('The model provider sent a malformed event.');
            }
          },
        });
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          rearm();
          const text = decoder.decode(value, { stream: true });
          if (sse) parser.feed(text);
          else whole += text;
          if (failure) {
            await reader.cancel().catch(() => undefined);
            throw failure;
          }
          if (waits.length > 0) {
            // Not reading upstream meanwhile lets TCP slow the provider too. Waiting on our
            // reader is not the provider being idle, so its timer is off while we wait.
            clearTimeout(timer);
            await Promise.all(waits.splice(0));
            rearm();
          }
        }
        if (!sse) take(JSON.parse(whole) as Chunk);
        await Promise.all(waits.splice(0));
        const text = answer.toString();
        return { answer: text, usage: usage ?? usageOf(promptWords(messages), countWords(text)) };
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (idle.signal.aborted) throw new ProviderError('The model provider did not answer in time.');
        if (err instanceof ProviderError) throw err;
        throw new ProviderError('The model provider could not be reached or sent a malformed answer.');
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
