package servetest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The span ids of OrderTrace.
var (
	OrderRootSpan  = pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
	OrderChildSpan = pcommon.SpanID{8, 7, 6, 5, 4, 3, 2, 1}
)

// SendOrderTrace exports over OTLP gRPC to addr what an instrumented
// service sends while serving one request: trace traceID of two spans,
// "GET /orders" (server, OrderRootSpan, at start, 50 ms) and its child
// "SELECT orders" (client, OrderChildSpan, 30 ms, failed: status error
// "connection reset", db.system postgresql), and lines log lines
// "handled order <i>" of the root span, a millisecond apart from start,
// all with resource attributes res. extra, when set, is exported with the
// log lines (more resources of the same request).
func SendOrderTrace(t testing.TB, addr string, res map[string]string, traceID pcommon.TraceID, start time.Time, lines int, extra ...plog.ResourceLogs) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	for k, v := range res {
		rs.Resource().Attributes().PutStr(k, v)
	}
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, id := range []pcommon.SpanID{OrderRootSpan, OrderChildSpan} {
		s := spans.AppendEmpty()
		s.SetTraceID(traceID)
		s.SetSpanID(id)
		s.SetName([]string{"GET /orders", "SELECT orders"}[i])
		s.SetKind([]ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindClient}[i])
		if i == 1 {
			s.SetParentSpanID(OrderRootSpan)
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage("connection reset")
			s.Attributes().PutStr("db.system", "postgresql")
		}
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Millisecond)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(50-i*20) * time.Millisecond)))
	}
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatal(err)
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	for k, v := range res {
		rl.Resource().Attributes().PutStr(k, v)
	}
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range lines {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Millisecond)))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.SetTraceID(traceID)
		lr.SetSpanID(OrderRootSpan)
		lr.Body().SetStr(fmt.Sprintf("handled order %d", i))
	}
	for _, e := range extra {
		e.MoveTo(ld.ResourceLogs().AppendEmpty())
	}
	if _, err := plogotlp.NewGRPCClient(conn).Export(context.Background(), plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}
}

// SendForward sends one record in Fluent Bit's forward output format
// (Message mode, with a chunk option) to addr and waits for its ack.
func SendForward(t testing.TB, addr, tag string, at time.Time, record map[string]any, chunk string) {
	t.Helper()
	frame, err := msgpack.Marshal([]any{tag, at.Unix(), record, map[string]any{"chunk": chunk}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	var ack map[string]string
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := msgpack.NewDecoder(c).Decode(&ack); err != nil || ack["ack"] != chunk {
		t.Fatalf("forward ack: %v %v", ack, err)
	}
}
