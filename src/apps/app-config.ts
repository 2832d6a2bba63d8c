import { Liquid } from 'liquidjs';
import { z } from 'zod';
import type { AppMode } from '../storage/repos/apps.ts';

const liquid = new Liquid({ strictFilters: true });

const template = z.string().max(20_000).superRefine((text, ctx) => {
  try {
    liquid.parse(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid template: ${(err as Error).message.split('\n')[0]}` });
  }
});

const variable = z.string().regex(/^[A-Za-z_]\w{0,63}$/, 'must be an identifier');

export const inputFieldSchema = z
  .object({
    variable,
    label: z.string().min(1).max(200),
    type: z.enum(['text', 'paragraph', 'select', 'number']),
    required: z.boolean().default(false),
    max_length: z.number().int().min(1).max(100_000).optional(),
    options: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .refine((f) => f.type !== 'select' || (f.options?.length ?? 0) > 0, { message: 'a select input needs options', path: ['options'] });

export const modelSchema = z
  .object({
    provider: z.enum(['echo', 'openai']),
    name: z.string().min(1).max(200),
    params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  })
  .strict();

const inputs = z
  .array(inputFieldSchema)
  .max(50)
  .default([])
  .refine((fs) => new Set(fs.map((f) => f.variable)).size === fs.length, 'input variables must be unique');

const chatConfig = z
  .object({ model: modelSchema, system_prompt: template.optional(), prompt: template.default('{{ query }}'), input_schema: inputs })
  .strict();
const completionConfig = z.object({ model: modelSchema, prompt: template, input_schema: inputs }).strict();

const workflowStep = z.discriminatedUnion('type', [
  z.object({ id: variable, type: z.literal('template'), template, output: variable }).strict(),
  z.object({ id: variable, type: z.literal('llm'), model: modelSchema.optional(), prompt: template, output: variable }).strict(),
  z.object({ id: variable, type: z.literal('end'), outputs: z.record(variable, variable) }).strict(),
]);
const workflowConfig = z
  .object({ model: modelSchema.optional(), input_schema: inputs, steps: z.array(workflowStep).min(1).max(50) })
  .strict()
  .refine((c) => c.steps.at(-1)?.type === 'end', { message: 'the last step must be an end step', path: ['steps'] })
  .refine((c) => c.steps.every((s) => s.type !== 'llm' || s.model || c.model), {
    message: 'an llm step needs a model (its own or the workflow model)',
    path: ['steps'],
  });

export type InputField = z.output<typeof inputFieldSchema>;
export type ModelConfig = z.output<typeof modelSchema>;
export type ChatConfig = z.output<typeof chatConfig>;
export type CompletionConfig = z.output<typeof completionConfig>;
export type WorkflowConfig = z.output<typeof workflowConfig>;
export type WorkflowStep = z.output<typeof workflowStep>;

const byMode = { chat: chatConfig, completion: completionConfig, workflow: workflowConfig } as const;

export class AppConfigError extends Error {}

/** Validates an app's config for its mode when it is created; returns the normalised config. */
export function parseAppConfig(mode: AppMode, config: unknown): Record<string, unknown> {
  const result = byMode[mode].safeParse(config);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new AppConfigError(`invalid ${mode} app config at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return result.data as Record<string, unknown>;
}

export function inputSchemaOf(config: Record<string, unknown>): InputField[] {
  return (config.input_schema as InputField[] | undefined) ?? [];
}
