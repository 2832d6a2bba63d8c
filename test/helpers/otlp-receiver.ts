import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { listenLocal } from './listen.ts';

/**
 * An OTLP/HTTP receiver in the test process, as an OpenTelemetry Collector's would be:
 * `POST /v1/traces` and `POST /v1/logs`, in binary protobuf (`application/x-protobuf`) or
 * JSON (`application/json`). It keeps every body as received (to search for what must
 * never be exported) and the spans and log records decoded into one shape whatever the
 * protocol. The protobuf schema below is the part of OTLP's trace and log messages the
 * tests read; protobuf skips the fields it does not list.
 */
const SCHEMA = `
syntax = "proto3";
package otlp;
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message Scope { string name = 1; string version = 2; }
message Status { string message = 2; int32 code = 3; }
message Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9; Status status = 15; }
message ScopeSpans { Scope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message LogRecord { fixed64 time_unix_nano = 1; int32 severity_number = 2; string severity_text = 3; AnyValue body = 5; repeated KeyValue attributes = 6;
  bytes trace_id = 9; bytes span_id = 10; string event_name = 12; }
message ScopeLogs { Scope scope = 1; repeated LogRecord log_records = 2; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
`;
const root = protobuf.parse(SCHEMA).root;
const TYPES = { '/v1/traces': root.lookupType('otlp.ExportTraceServiceRequest'), '/v1/logs': root.lookupType('otlp.ExportLogsServiceRequest') };

export type Attributes = Record<string, unknown>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 2 server, 3 client. */
  kind: number;
  attributes: Attributes;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resource: Attributes;
}

export interface ReceivedLog {
  eventName: string;
  body: unknown;
  attributes: Attributes;
  traceId: string;
  spanId: string;
  resource: Attributes;
}

export interface OtlpReceiver {
  url: string;
  /** Every request body as received (decompressed), with its protocol. */
  bodies: { protocol: 'protobuf' | 'json'; path: string; bytes: Buffer }[];
  spans: ReceivedSpan[];
  logs: ReceivedLog[];
  close(): Promise<void>;
}

/** OTLP/JSON carries ids as hex and protobuf as bytes; OTLP/JSON may carry 64-bit integers as strings. */
interface Wire {
  [k: string]: unknown;
}
const hex = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'string' ? v.toLowerCase() : '');

function value(v: Wire | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue !== undefined) return ((v.arrayValue as Wire).values as Wire[] | undefined ?? []).map(value);
  if (v.kvlistValue !== undefined) return attributes((v.kvlistValue as Wire).values as Wire[]);
  if (v.bytesValue !== undefined) return hex(v.bytesValue);
  return undefined;
}

function attributes(list: Wire[] | undefined): Attributes {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key as string, value(kv.value as Wire)]));
}

function take(path: string, body: Wire, r: OtlpReceiver): void {
  const each = (list: unknown, fn: (x: Wire) => void) => ((list as Wire[] | undefined) ?? []).forEach(fn);
  if (path === '/v1/traces') {
    each(body.resourceSpans, (rs) => {
      const resource = attributes((rs.resource as Wire | undefined)?.attributes as Wire[]);
      each(rs.scopeSpans, (ss) =>
        each(ss.spans, (s) =>
          r.spans.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            name: s.name as string,
            kind: Number(s.kind ?? 0),
            attributes: attributes(s.attributes as Wire[]),
            statusCode: Number((s.status as Wire | undefined)?.code ?? 0),
            resource,
          }),
        ),
      );
    });
  } else {
    each(body.resourceLogs, (rl) => {
      const resource = attributes((rl.resource as Wire | undefined)?.attributes as Wire[]);
      each(rl.scopeLogs, (sl) =>
        each(sl.logRecords, (l) =>
          r.logs.push({
            eventName: (l.eventName as string | undefined) ?? '',
            body: value(l.body as Wire),
            attributes: attributes(l.attributes as Wire[]),
            traceId: hex(l.traceId),
            spanId: hex(l.spanId),
            resource,
          }),
        ),
      );
    });
  }
}

async function read(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const r: OtlpReceiver = { url: '', bodies: [], spans: [], logs: [], close: async () => undefined };
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] as keyof typeof TYPES;
    const type = TYPES[path];
    if (req.method !== 'POST' || !type) return void res.writeHead(404).end();
    void read(req).then((bytes) => {
      const json = (req.headers['content-type'] ?? '').startsWith('application/json');
      r.bodies.push({ protocol: json ? 'json' : 'protobuf', path, bytes });
      const body = json ? (JSON.parse(bytes.toString('utf8')) as Wire) : (type.toObject(type.decode(bytes), { longs: String, defaults: false }) as Wire);
      take(path, body, r);
      // An empty Export…ServiceResponse: zero bytes in protobuf, `{}` in JSON.
      if (json) res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
    });
  });
  const listening = await listenLocal(server);
  r.url = listening.url;
  r.close = listening.close;
  return r;
}
