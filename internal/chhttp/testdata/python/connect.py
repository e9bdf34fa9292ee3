"""What Grafana's datasource and HyperDX send on connect and while browsing
the schema, then a log search over otel_logs, through clickhouse-connect
(Native format over HTTP). Exits non-zero on the first wrong answer."""
import os
import sys

import clickhouse_connect

url = os.environ["CH_URL"]
host, port = url.split("//")[1].split(":")
client = clickhouse_connect.get_client(
    host=host, port=int(port), username=os.environ["CH_USER"], password=os.environ["CH_PASSWORD"],
    compress=os.environ.get("CH_COMPRESS", "lz4"),
)


def step(name):
    print("ok " + name, flush=True)


version = client.command("SELECT version()")
assert str(version).startswith("26."), version
step("version " + str(version))
row = client.query("SELECT displayName(), version(), revision(), timezone()").result_rows[0]
assert row[2] > 54000, row
step("hello")
dbs = [r[0] for r in client.query("SHOW DATABASES").result_rows]
assert "otel" in dbs, dbs
tables = [r[0] for r in client.query("SHOW TABLES FROM otel").result_rows]
assert "otel_logs" in tables, tables
step("show databases/tables")
desc = client.query("DESC TABLE otel.otel_logs").result_rows
assert any(r[0] == "Body" and r[1] == "String" for r in desc)
cols = client.query(
    "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String}",
    parameters={"d": "otel", "t": "otel_logs"},
).result_rows
assert len(cols) == len(desc), (len(cols), len(desc))
step("describe %d columns" % len(desc))
t = client.query(
    "SELECT engine, sorting_key, primary_key, create_table_query FROM system.tables WHERE database = 'otel' AND name = 'otel_logs'"
).result_rows[0]
assert t[0] == "MergeTree" and t[1] and t[2] and t[3].startswith("CREATE TABLE otel.otel_logs"), t
step("system.tables")
idx = client.query("SELECT name, type FROM system.data_skipping_indices WHERE database = 'otel' AND table = 'otel_logs'").result_rows
assert idx, idx
step("data_skipping_indices %d" % len(idx))
logs = client.query(
    "SELECT Timestamp, ServiceName, Body, LogAttributes, ResourceAttributes FROM otel.otel_logs "
    "WHERE ServiceName = {svc:String} AND hasToken(Body, {tok:String}) ORDER BY Timestamp DESC LIMIT 100",
    parameters={"svc": "checkout", "tok": "failed"},
)
assert len(logs.result_rows) == 2, logs.result_rows
for r in logs.result_rows:
    assert "failed" in r[2] and isinstance(r[3], dict) and r[0].year == 2026, r
step("otel_logs search %d" % len(logs.result_rows))
client.command("DROP TABLE IF EXISTS py_rows")
client.command("CREATE TABLE py_rows (id UInt64, s String, m Map(String, String)) ENGINE = MergeTree ORDER BY id")
client.insert("py_rows", [[i, "r%d" % i, {"k": str(i)}] for i in range(5000)], column_names=["id", "s", "m"])
n, total = client.query("SELECT count(), sum(id) FROM py_rows").result_rows[0]
assert n == 5000 and total == sum(range(5000)), (n, total)
step("native insert 5000")
try:
    client.query("SELECT * FROM otel.no_such_table")
    sys.exit("no error for a missing table")
except Exception as e:  # clickhouse_connect.driver.exceptions.DatabaseError
    assert "UNKNOWN_TABLE" in str(e) and "60" in str(e), e
step("error code")
