package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"go.uber.org/zap"
)

func TestCollectorLogsGoThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	z := zap.NewNop().WithOptions(SlogLogging(log)...)
	z.With(zap.String("otelcol.component.id", "otlp")).Warn("queue is full", zap.Int("size", 500), zap.Error(errors.New("boom")))
	z.Debug("not at info level")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", buf.String(), err)
	}
	if rec["level"] != "WARN" || rec["msg"] != "queue is full" || rec["otelcol.component.id"] != "otlp" || rec["size"] != float64(500) || rec["error"] != "boom" {
		t.Fatalf("record: %v", rec)
	}
}
