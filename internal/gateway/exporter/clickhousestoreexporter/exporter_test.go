package clickhousestoreexporter

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// recordingStore is the real embedded engine with two additions for the
// unit tests: it records every batch the exporter hands it, and while err
// is set it fails inserts with err (a store that is down, or refuses the
// data), so the exporter's error handling can be driven case by case.
type recordingStore struct {
	store.Store
	mu      sync.Mutex
	batches []*store.Batch
	err     error
}

var otelSchema sync.Once

func newRecordingStore(t *testing.T, err error) *recordingStore {
	t.Helper()
	otelSchema.Do(func() {
		if _, err := schema.Apply(context.Background(), engine, schema.Options{Database: "otel"}); err != nil {
			t.Fatalf("schema: %v", err)
		}
	})
	return &recordingStore{Store: engine, err: err}
}

func (f *recordingStore) Insert(ctx context.Context, b *store.Batch) error {
	f.mu.Lock()
	err := f.err
	if err == nil {
		f.batches = append(f.batches, b)
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Store.Insert(ctx, b)
}

// Close leaves the shared engine open for the other tests.
func (f *recordingStore) Close() error { return nil }

func newTestExporter(st store.Store) (*storeExporter, *Telemetry) {
	tel := NewTelemetry(prometheus.NewRegistry())
	return &storeExporter{cfg: createDefaultConfigStruct(), st: st, tel: tel, logger: zap.NewNop()}, tel
}

func col(t *testing.T, b *store.Batch, name string) any {
	t.Helper()
	for _, c := range b.Columns {
		if c.Name == name {
			return c.Values
		}
	}
	t.Fatalf("batch %s has no column %s", b.Table, name)
	return nil
}

func mapOf(m column.IterableOrderedMap) map[string]string {
	out := map[string]string{}
	it := m.Iterator()
	for it.Next() {
		out[it.Key().(string)] = it.Value().(string)
	}
	return out
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

func TestLogsRows(t *testing.T) {
	b := logsBatch("otel", "otel_logs", sampleLogs())
	if b.Rows != 2 || b.Database != "otel" || b.Table != "otel_logs" {
		t.Fatalf("batch %s.%s rows %d", b.Database, b.Table, b.Rows)
	}
	if _, err := b.EncodeNative(); err != nil {
		t.Fatal(err)
	}
	eq(t, "Timestamp", col(t, b, "Timestamp"), []time.Time{t0, t0.Add(2 * time.Second)})
	eq(t, "TraceId", col(t, b, "TraceId"), []string{"0102030405060708090a0b0c0d0e0f10", ""})
	eq(t, "SpanId", col(t, b, "SpanId"), []string{"0a0b0c0d0e0f0102", ""})
	eq(t, "TraceFlags", col(t, b, "TraceFlags"), []uint8{1, 0})
	eq(t, "SeverityText", col(t, b, "SeverityText"), []string{"ERROR", ""})
	eq(t, "SeverityNumber", col(t, b, "SeverityNumber"), []uint8{17, 0})
	eq(t, "ServiceName", col(t, b, "ServiceName"), []string{"reading-list", "reading-list"})
	eq(t, "Body", col(t, b, "Body"), []string{"db down\twith tab\nand newline", `{"k":"v"}`})
	eq(t, "ResourceSchemaUrl", col(t, b, "ResourceSchemaUrl"), []string{"https://opentelemetry.io/schemas/1.26.0", "https://opentelemetry.io/schemas/1.26.0"})
	eq(t, "ScopeSchemaUrl", col(t, b, "ScopeSchemaUrl"), []string{"https://scope/schema", "https://scope/schema"})
	eq(t, "ScopeName", col(t, b, "ScopeName"), []string{"fluentforward", "fluentforward"})
	eq(t, "ScopeVersion", col(t, b, "ScopeVersion"), []string{"v1", "v1"})
	eq(t, "EventName", col(t, b, "EventName"), []string{"db.failure", ""})
	la := col(t, b, "LogAttributes").([]column.IterableOrderedMap)
	eq(t, "LogAttributes", mapOf(la[0]), map[string]string{"stream": "stderr", "attempt": "3", "ok": "false"})
	ra := col(t, b, "ResourceAttributes").([]column.IterableOrderedMap)
	eq(t, "ResourceAttributes", mapOf(ra[1]), map[string]string{"service.name": "reading-list", "openchoreo.component": "reading-list", "k8s.namespace.name": "dp-ns"})
	eq(t, "ScopeAttributes", mapOf(col(t, b, "ScopeAttributes").([]column.IterableOrderedMap)[0]), map[string]string{"s": "1"})
}

func TestTracesRows(t *testing.T) {
	b := tracesBatch("otel", "otel_traces", sampleTraces())
	if b.Rows != 2 {
		t.Fatalf("rows %d", b.Rows)
	}
	if _, err := b.EncodeNative(); err != nil {
		t.Fatal(err)
	}
	eq(t, "Timestamp", col(t, b, "Timestamp"), []time.Time{t0, t0})
	eq(t, "ParentSpanId", col(t, b, "ParentSpanId"), []string{"0909090909090909", ""})
	eq(t, "TraceState", col(t, b, "TraceState"), []string{"vendor=x", ""})
	eq(t, "SpanKind", col(t, b, "SpanKind"), []string{"Server", "Unspecified"})
	eq(t, "StatusCode", col(t, b, "StatusCode"), []string{"Error", "Unset"})
	eq(t, "StatusMessage", col(t, b, "StatusMessage"), []string{"boom", ""})
	eq(t, "Duration", col(t, b, "Duration"), []uint64{1500000, 0})
	eq(t, "Events.Name", col(t, b, "Events.Name"), [][]string{{"exception"}, {}})
	eq(t, "Events.Timestamp", col(t, b, "Events.Timestamp"), [][]time.Time{{t0.Add(time.Millisecond)}, {}})
	eq(t, "Links.TraceId", col(t, b, "Links.TraceId"), [][]string{{"ff000000000000000000000000000000"}, {}})
	eq(t, "Links.SpanId", col(t, b, "Links.SpanId"), [][]string{{"ee00000000000000"}, {}})
	eq(t, "Links.TraceState", col(t, b, "Links.TraceState"), [][]string{{"a=b"}, {}})
	eq(t, "SpanAttributes", mapOf(col(t, b, "SpanAttributes").([]column.IterableOrderedMap)[0]), map[string]string{"http.method": "GET", "http.status_code": "500"})
}

func TestMetricsRows(t *testing.T) {
	tables := createDefaultConfigStruct().MetricsTables
	batches, skipped := metricsBatches("otel", tables, sampleMetrics())
	if skipped != 1 {
		t.Errorf("skipped %d, want 1", skipped)
	}
	byTable := map[string]*store.Batch{}
	for _, b := range batches {
		if _, err := b.EncodeNative(); err != nil {
			t.Fatalf("%s: %v", b.Table, err)
		}
		if b.Rows != 1 {
			t.Errorf("%s: rows %d", b.Table, b.Rows)
		}
		byTable[b.Table] = b
	}
	if len(byTable) != 5 {
		t.Fatalf("tables %v", reflect.ValueOf(byTable).MapKeys())
	}
	g := byTable["otel_metrics_gauge"]
	eq(t, "gauge Value", col(t, g, "Value"), []float64{42})
	eq(t, "gauge ScopeDroppedAttrCount", col(t, g, "ScopeDroppedAttrCount"), []uint32{2})
	eq(t, "gauge exemplar value", col(t, g, "Exemplars.Value"), [][]float64{{1.5}})
	eq(t, "gauge exemplar trace", col(t, g, "Exemplars.TraceId"), [][]string{{"0102030405060708090a0b0c0d0e0f10"}})
	eq(t, "gauge exemplar span (unset -> zeros)", col(t, g, "Exemplars.SpanId"), [][]string{{"0000000000000000"}})
	s := byTable["otel_metrics_sum"]
	eq(t, "sum Value", col(t, s, "Value"), []float64{7.25})
	eq(t, "sum IsMonotonic", col(t, s, "IsMonotonic"), []bool{true})
	eq(t, "sum AggregationTemporality", col(t, s, "AggregationTemporality"), []int32{2})
	eq(t, "sum StartTimeUnix", col(t, s, "StartTimeUnix"), []time.Time{t0.Add(-time.Minute)})
	h := byTable["otel_metrics_histogram"]
	eq(t, "hist BucketCounts", col(t, h, "BucketCounts"), [][]uint64{{1, 2, 3}})
	eq(t, "hist ExplicitBounds", col(t, h, "ExplicitBounds"), [][]float64{{1, 2}})
	eq(t, "hist Min/Max", []any{col(t, h, "Min"), col(t, h, "Max")}, []any{[]float64{0.5}, []float64{5}})
	e := byTable["otel_metrics_exponential_histogram"]
	eq(t, "exp PositiveOffset", col(t, e, "PositiveOffset"), []int32{-1})
	eq(t, "exp NegativeOffset", col(t, e, "NegativeOffset"), []int32{3})
	eq(t, "exp Scale", col(t, e, "Scale"), []int32{2})
	q := byTable["otel_metrics_summary"]
	eq(t, "summary quantiles", col(t, q, "ValueAtQuantiles.Quantile"), [][]float64{{0.99}})
	eq(t, "summary values", col(t, q, "ValueAtQuantiles.Value"), [][]float64{{0.2}})
}

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		err       error
		permanent bool
	}{
		{&store.Error{Code: 60, Message: "Code: 60. DB::Exception: Unknown table"}, true},
		{&store.Error{Code: 53, Message: "Code: 53. Type mismatch"}, true},
		{&store.Error{Code: 241, Message: "Code: 241. Memory limit exceeded"}, false},
		{&store.Error{Code: 252, Message: "Code: 252. Too many parts"}, false},
		{errors.New("connection reset by peer"), false},
		{context.DeadlineExceeded, false},
		{store.ErrClosed, false}, // shutdown: keep it queued
	}
	for _, tc := range cases {
		fs := newRecordingStore(t, tc.err)
		e, tel := newTestExporter(fs)
		err := e.pushLogs(context.Background(), sampleLogs())
		if err == nil {
			t.Fatalf("%v: no error", tc.err)
		}
		if consumererror.IsPermanent(err) != tc.permanent {
			t.Errorf("%v: permanent=%v, want %v", tc.err, consumererror.IsPermanent(err), tc.permanent)
		}
		if !strings.Contains(err.Error(), "otel.otel_logs") || !errors.Is(err, tc.err) {
			t.Errorf("error lacks context or cause: %v", err)
		}
		result := "retryable"
		if tc.permanent {
			result = "permanent"
		}
		if got := testutil.ToFloat64(tel.Batches.WithLabelValues("otel_logs", result)); got != 1 {
			t.Errorf("%v: %s counter %v", tc.err, result, got)
		}
	}
}

func TestDedupTokenAndMetrics(t *testing.T) {
	fs := newRecordingStore(t, nil)
	e, tel := newTestExporter(fs)
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the same content twice, as a replay would be
		if err := e.pushLogs(ctx, sampleLogs()); err != nil {
			t.Fatal(err)
		}
	}
	other := sampleLogs()
	other.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().SetStr("different")
	if err := e.pushLogs(ctx, other); err != nil {
		t.Fatal(err)
	}
	if len(fs.batches) != 3 {
		t.Fatalf("batches %d", len(fs.batches))
	}
	a, b, c := fs.batches[0].DedupToken, fs.batches[1].DedupToken, fs.batches[2].DedupToken
	if a == "" || a != b || a == c {
		t.Errorf("tokens: replay %q/%q, different content %q", a, b, c)
	}
	if !strings.HasSuffix(a, "-otel_logs") {
		t.Errorf("token %q does not name its table", a)
	}
	if got := testutil.ToFloat64(tel.Rows.WithLabelValues("otel_logs")); got != 6 {
		t.Errorf("rows written counter %v", got)
	}
	if n := testutil.CollectAndCount(tel.Latency); n != 1 {
		t.Errorf("latency series %d", n)
	}

	// Metrics: one token per request, suffixed per table.
	if err := e.pushMetrics(ctx, sampleMetrics()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range fs.batches[3:] {
		seen[b.DedupToken] = true
	}
	if len(seen) != 5 {
		t.Errorf("metric tokens %v", seen)
	}
	if got := testutil.ToFloat64(tel.Skipped.WithLabelValues("metrics", "type_unset")); got != 1 {
		t.Errorf("skipped counter %v", got)
	}

	e.cfg.Dedup = false
	if err := e.pushLogs(ctx, sampleLogs()); err != nil {
		t.Fatal(err)
	}
	if tok := fs.batches[len(fs.batches)-1].DedupToken; tok != "" {
		t.Errorf("dedup off but token %q", tok)
	}
	// Empty requests never reach the store.
	n := len(fs.batches)
	if err := e.pushLogs(ctx, plog.NewLogs()); err != nil || len(fs.batches) != n {
		t.Errorf("empty request: err %v, batches %d", err, len(fs.batches)-n)
	}
}

func TestFactory(t *testing.T) {
	fs := newRecordingStore(t, nil)
	reg := prometheus.NewRegistry()
	f := NewFactory(fs, WithRegisterer(reg))
	cfg := f.CreateDefaultConfig().(*Config)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	set := exportertest.NewNopSettings(Type)
	ctx := context.Background()
	exp, err := f.CreateLogs(ctx, set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ConsumeLogs(ctx, sampleLogs()); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil { // drains the in-memory queue
		t.Fatal(err)
	}
	if len(fs.batches) != 1 || fs.batches[0].Rows != 2 {
		t.Fatalf("batches %d", len(fs.batches))
	}
	if _, err := f.CreateTraces(ctx, set, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateMetrics(ctx, set, cfg); err != nil {
		t.Fatal(err)
	}
	// A second factory on the same registry reuses the metrics.
	_ = NewFactory(fs, WithRegisterer(reg))
	if _, err := NewFactory(nil).CreateLogs(ctx, set, cfg); err == nil {
		t.Error("a factory without a store must refuse to create exporters")
	}

	bad := *cfg
	bad.LogsTableName = "a`b"
	bad.MetricsTables.Gauge.Name = ""
	err = bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "logs_table_name") || !strings.Contains(err.Error(), "metrics_tables.gauge.name") {
		t.Errorf("validate: %v", err)
	}
}
