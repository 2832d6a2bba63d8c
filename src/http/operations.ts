import type { Request, Response } from 'express';
import type { operations } from '../../generated/openapi.ts';
import type { AuthContext } from '../auth/bearer-authenticator.ts';
import type { Caller } from '../auth/pipeline.ts';
import type { ScopeRule } from '../auth/scopes.ts';
import type { AppMode, AppRecord } from '../storage/repos/apps.ts';

/** Every operationId in openapi.yaml (from the generated types). */
export type OperationId = keyof operations;

type Op<K extends OperationId> = operations[K];
type Params<K extends OperationId> = Op<K>['parameters'];
export type PathOf<K extends OperationId> = Params<K> extends { path: infer P } ? (P extends undefined ? never : P) : never;
export type QueryOf<K extends OperationId> = Params<K> extends { query?: infer Q } ? NonNullable<Q> : never;
export type BodyOf<K extends OperationId> = Op<K> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : undefined;
/** What a handler may answer: one of the operation's declared responses, typed from the spec (errors are usually thrown as ApiError). */
export type Reply<K extends OperationId> = {
  [S in keyof Op<K>['responses'] & number]: { status: S; body: JsonOf<Op<K>['responses'][S]>; headers?: Record<string, string> };
}[keyof Op<K>['responses'] & number];

interface BaseContext<K extends OperationId> {
  params: PathOf<K>;
  query: QueryOf<K>;
  body: BodyOf<K>;
  req: Request;
  res: Response;
}
export type PublicContext<K extends OperationId> = BaseContext<K>;
export interface BearerContext<K extends OperationId> extends BaseContext<K> {
  auth: AuthContext;
}
export interface AppContext<K extends OperationId> extends BearerContext<K> {
  app: AppRecord;
  caller: Caller;
}

/** `undefined` means the handler wrote the response itself (streaming). */
type Result<K extends OperationId> = Promise<Reply<K> | undefined>;

/**
 * How an operation is guarded. There is no variant without a guard except
 * `public`, which the router allows only for operations whose spec security is `[]`.
 */
export type Route<K extends OperationId> =
  | { guard: 'public'; handler: (ctx: PublicContext<K>) => Result<K> }
  | { guard: 'bearer'; scope: ScopeRule; handler: (ctx: BearerContext<K>) => Result<K> }
  | { guard: 'app'; scope: ScopeRule; modes?: readonly AppMode[]; handler: (ctx: AppContext<K>) => Result<K> };

/** One entry per spec operation: a missing one is a type error. */
export type RouteTable = { [K in OperationId]: Route<K> };
export type Routes<K extends OperationId> = { [P in K]: Route<P> };
