// What HyperDX (packages/common-utils: ClickhouseClient, Metadata) and
// Grafana's datasource send when they connect to a ClickHouse server and
// browse its schema, then a log search over otel_logs, through
// @clickhouse/client as HyperDX configures it. Exits non-zero on the first
// answer that is not a ClickHouse server's.
import assert from 'node:assert/strict';
import { createClient } from '@clickhouse/client';

const url = process.env.CH_URL;
const client = createClient({
  url,
  username: process.env.CH_USER,
  password: process.env.CH_PASSWORD,
  request_timeout: 30000,
  application: 'hyperdx',
  use_multipart_params_auto: true,
});
// HyperDX's defaults for every query (processClickhouseSettings).
const settings = {
  allow_experimental_analyzer: 1,
  date_time_output_format: 'iso',
  wait_end_of_query: 0,
  cancel_http_readonly_queries_on_client_close: 1,
  output_format_json_quote_64bit_integers: 1,
  max_execution_time: 60,
};
const q = async (query, query_params, extra = {}) => {
  const rs = await client.query({ query, query_params, format: 'JSON', clickhouse_settings: { ...settings, ...extra } });
  return rs.json();
};
const step = (name) => console.log('ok ' + name);

assert.equal((await client.ping()).success, true);
step('ping');
// Metadata: version, settings, Cloud detection (no settings applied).
const raw = async (query) => (await client.query({ query, format: 'JSON' })).json();
const v = await raw('SELECT version() AS version');
assert.match(v.data[0].version, /^26\.\d+\.\d+\.\d+$/);
step('version ' + v.data[0].version);
const s = await raw('SELECT name, value FROM system.settings');
const names = new Set(s.data.map((r) => r.name));
for (const n of ['max_execution_time', 'date_time_output_format', 'output_format_json_quote_64bit_integers']) assert.ok(names.has(n), n);
step('system.settings ' + s.data.length);
const cloud = await raw("SELECT count() > 0 AS is_cloud FROM system.table_engines WHERE name = 'SharedMergeTree'");
assert.ok(!cloud.data[0].is_cloud);
step('table_engines');
// Data source browsing (HyperDX's useDatabasesDirect / useTablesDirect, Grafana's schema picker).
const dbs = await q('SHOW DATABASES');
assert.ok(dbs.data.some((r) => r.name === 'otel'));
const tables = await q('SHOW TABLES FROM {HYPERDX_PARAM_1:Identifier}', { HYPERDX_PARAM_1: 'otel' });
assert.ok(tables.data.some((r) => r.name === 'otel_logs'));
step('show databases/tables');
const desc = await q('DESCRIBE {a:Identifier}.{b:Identifier}', { a: 'otel', b: 'otel_logs' });
assert.ok(desc.data.some((r) => r.name === 'Body' && r.type === 'String'));
step('describe ' + desc.data.length + ' columns');
const tbl = await q('SELECT * FROM system.tables WHERE database = {d:String} AND name = {t:String} LIMIT 1', { d: 'otel', t: 'otel_logs' });
assert.equal(tbl.data[0].engine, 'MergeTree');
assert.ok(tbl.data[0].sorting_key.length > 0 && tbl.data[0].primary_key.length > 0 && tbl.data[0].create_table_query.startsWith('CREATE TABLE otel.otel_logs'));
step('system.tables');
const idx = await q('SELECT name, type, type_full as typeFull, expr as expression, granularity FROM system.data_skipping_indices WHERE database = {d:String} AND table = {t:String}', { d: 'otel', t: 'otel_logs' });
assert.ok(idx.data.length > 0);
step('data_skipping_indices ' + idx.data.length);
const parts = await q("SELECT name FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active = 1", { d: 'otel', t: 'otel_logs' });
assert.ok(parts.data.length > 0);
step('system.parts');
const cols = await q('SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String}', { d: 'otel', t: 'otel_logs' });
assert.ok(cols.data.length === desc.data.length);
step('system.columns');
const est = await q('EXPLAIN ESTIMATE SELECT Timestamp, Body FROM otel.otel_logs WHERE Timestamp >= fromUnixTimestamp64Milli({s:Int64}) AND ServiceName = {svc:String}', { s: 0, svc: 'checkout' });
assert.ok(est.meta.some((m) => m.name === 'rows'));
step('explain estimate');
// A log search: ISO times, 64-bit integers quoted, parameters bound.
const logs = await q(
  'SELECT Timestamp, ServiceName, SeverityText, Body, toUInt64(SeverityNumber) AS n FROM otel.otel_logs WHERE ServiceName = {svc:String} AND hasToken(Body, {tok:String}) ORDER BY Timestamp DESC LIMIT {lim:Int32}',
  { svc: 'checkout', tok: 'failed', lim: 100 },
);
assert.equal(logs.rows, 2);
assert.match(logs.data[0].Timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
assert.equal(typeof logs.data[0].n, 'string');
assert.ok(logs.data.every((r) => r.Body.includes('failed')));
step('otel_logs search ' + logs.rows);
// Parameters too long for a URL go in a multipart body.
const long = 'x'.repeat(20000);
const lp = await q('SELECT length({p:String}) AS l', { p: long });
assert.equal(Number(lp.data[0].l), 20000);
step('multipart params');
// JSONEachRow insert and streamed read back.
await client.command({ query: 'DROP TABLE IF EXISTS js_rows' });
await client.command({ query: 'CREATE TABLE js_rows (id UInt64, s String) ENGINE = MergeTree ORDER BY id' });
await client.insert({ table: 'js_rows', values: Array.from({ length: 1000 }, (_, i) => ({ id: i, s: 'r' + i })), format: 'JSONEachRow' });
const rs = await client.query({ query: 'SELECT id, s FROM js_rows ORDER BY id', format: 'JSONEachRow' });
let n = 0;
for await (const rows of rs.stream()) for (const row of rows) { const r = row.json(); assert.equal(r.s, 'r' + r.id); n++; }
assert.equal(n, 1000);
step('insert and stream 1000');
// Errors arrive as ClickHouseError with the server's code.
await assert.rejects(q('SELECT * FROM otel.no_such_table'), (e) => e.code === '60' && e.type === 'UNKNOWN_TABLE');
step('error code');
// An aborted query ends promptly.
const ac = new AbortController();
const started = Date.now();
setTimeout(() => ac.abort(), 300);
await assert.rejects(client.query({ query: 'SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 3', format: 'JSON', abort_signal: ac.signal, clickhouse_settings: settings }));
assert.ok(Date.now() - started < 10000);
step('abort');
await client.close();
