import type { TokenSource } from '../auth/auth-context.ts';
import type { RouteName } from '../http/route-names.ts';
import type { AppMode } from '../storage/repos/apps.ts';
import type { RunStatus } from '../storage/repos/conversations.ts';

/**
 * Every metric Tessera exports, with its labels and the values each label may take
 * (docs/observability.md). Emitters name a family from here; nothing else names a metric.
 * A label value is always one of a small fixed set (a route name, a code, a mode), never
 * a token, an email, a subject, an app or a workspace id.
 */

/** `none`: no token, or one no strategy took for a source (a malformed bearer, an unknown prefix). */
export type AuthSource = TokenSource | 'none';

/** What the bearer pipeline decided: `ok`, or the error code it refused with. */
export const AUTH_RESULTS = ['ok', 'missing_token', 'invalid_token', 'token_expired', 'insufficient_scope', 'forbidden', 'wrong_subject', 'not_found', 'rate_limited'] as const;
export type AuthResult = (typeof AUTH_RESULTS)[number];
export const AUTH_SOURCES: readonly AuthSource[] = ['account_device', 'api_key', 'external_device', 'jwt_federated', 'jwt_gateway', 'none'];

/** `account`: the branch every code starts in (a Tessera account approves); `sso`: the external-SSO branch. */
export const DEVICE_FLOW_BRANCHES = ['account', 'sso'] as const;
export type DeviceFlowBranch = (typeof DEVICE_FLOW_BRANCHES)[number];
export const DEVICE_FLOW_EVENTS = ['started', 'approved', 'denied', 'expired', 'collected', 'replayed'] as const;
export type DeviceFlowEvent = (typeof DEVICE_FLOW_EVENTS)[number];

export const RUN_MODES: readonly AppMode[] = ['chat', 'completion', 'workflow'];
/** How a run ended (`running` is never counted: a run is counted once, when it ends). */
export type EndedRun = Exclude<RunStatus, 'running'>;
export const RUN_ENDINGS: readonly EndedRun[] = ['succeeded', 'failed', 'stopped'];

export const DEPENDENCIES = ['database', 'store', 'idp'] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

export type LabelValues = Record<string, string>;

export interface Family<L extends LabelValues> {
  readonly kind: 'counter' | 'gauge' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labels: readonly (keyof L & string)[];
  /** Histograms: upper bounds in seconds. */
  readonly buckets?: readonly number[];
  /** Every combination of these label values is exported from the start (at 0), so a rate never misses its first increase. */
  readonly known?: { readonly [K in keyof L]?: readonly L[K][] };
}

export type Counter<L extends LabelValues> = Family<L> & { readonly kind: 'counter' };
export type Gauge<L extends LabelValues> = Family<L> & { readonly kind: 'gauge' };
export type Histogram<L extends LabelValues> = Family<L> & { readonly kind: 'histogram' };

const family =
  <K extends Family<LabelValues>['kind']>(kind: K) =>
  <L extends LabelValues>(f: Omit<Family<L>, 'kind'>) =>
    ({ kind, ...f }) as Family<L> & { readonly kind: K };
const counter = family('counter');
const gauge = family('gauge');
const histogram = family('histogram');

/** OpenTelemetry's semantic-convention bounds for HTTP server durations, with two below 5 ms (a warm bearer request takes about 1 ms). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** A run lasts as long as the model writes: from a fraction of a second to minutes. */
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export const METRICS = {
  requestDuration: histogram<{ method: string; route: RouteName; status_code: string }>({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests until the response is over, by method, route (operationId or fixed name, other when unmatched) and status code.',
    labels: ['method', 'route', 'status_code'],
    buckets: REQUEST_BUCKETS,
  }),
  authDecisions: counter<{ source: AuthSource; result: AuthResult }>({
    name: 'tessera_auth_decisions_total',
    help: 'Decisions of the bearer pipeline, by token source and result (ok or the error code).',
    labels: ['source', 'result'],
    known: { source: AUTH_SOURCES, result: AUTH_RESULTS },
  }),
  deviceFlowEvents: counter<{ branch: DeviceFlowBranch; event: DeviceFlowEvent }>({
    name: 'tessera_device_flow_events_total',
    help: 'Device authorization flow events (RFC 8628), by branch (account or sso) and event.',
    labels: ['branch', 'event'],
    known: { branch: DEVICE_FLOW_BRANCHES, event: DEVICE_FLOW_EVENTS },
  }),
  runs: counter<{ mode: AppMode; status: EndedRun }>({
    name: 'tessera_runs_total',
    help: 'App runs that ended, by app mode and how they ended.',
    labels: ['mode', 'status'],
    known: { mode: RUN_MODES, status: RUN_ENDINGS },
  }),
  runsInFlight: gauge<{ mode: AppMode }>({
    name: 'tessera_runs_in_flight',
    help: 'App runs running on this replica, by app mode.',
    labels: ['mode'],
    known: { mode: RUN_MODES },
  }),
  runDuration: histogram<{ mode: AppMode }>({
    name: 'tessera_run_duration_seconds',
    help: 'Duration of app runs, from the model call to the recorded outcome, by app mode.',
    labels: ['mode'],
    buckets: RUN_BUCKETS,
    known: { mode: RUN_MODES },
  }),
  sseStreamsOpen: gauge<Record<never, string>>({
    name: 'tessera_sse_streams_open',
    help: 'Server-sent event streams of runs open on this replica.',
    labels: [],
  }),
  dependencyUp: gauge<{ dependency: Dependency }>({
    name: 'tessera_dependency_up',
    help: 'Whether a dependency answered when scraped (1) or not (0): database, store, and the SSO identity provider when one is configured.',
    labels: ['dependency'],
  }),
} as const;
