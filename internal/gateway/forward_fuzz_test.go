package gateway

import (
	"bytes"
	"compress/gzip"
	"net"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzForwardFrames feeds arbitrary bytes to the forward receiver of a live
// gateway, the path every Fluent Bit on every node talks to. Whatever the
// bytes, the process must not crash and the receiver must keep accepting
// connections; records around bad frames are covered by
// TestE2EForwardBadInput.
func FuzzForwardFrames(f *testing.F) {
	now := time.Date(2025, 11, 2, 10, 0, 0, 0, time.UTC)
	tag := "kube.var.log.containers.x.log"
	enc := func(v any) []byte {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	rec := fluentRecord("api-0", "api", `{"level":"error","msg":"db down"}`)
	f.Add(enc([]any{tag, eventTime(now), rec, map[string]any{"chunk": "m1"}}))
	f.Add(enc([]any{tag, []any{[]any{now.Unix(), rec}}, map[string]any{"chunk": "f1"}}))
	var packed bytes.Buffer
	packed.Write(enc([]any{eventTime(now), rec}))
	f.Add(enc([]any{tag, packed.Bytes(), map[string]any{"chunk": "p1", "size": 1}}))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(enc([]any{eventTime(now), rec}))
	zw.Close()
	f.Add(enc([]any{tag, gz.Bytes(), map[string]any{"chunk": "c1", "size": 1, "compressed": "gzip"}}))
	f.Add([]byte{0x93, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff}) // claims 4 billion elements
	fuzzGW := startGateway(f, "gw_fuzz", Params{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := net.DialTimeout("tcp", fuzzGW.forward, 2*time.Second)
		if err != nil {
			t.Fatalf("forward receiver stopped accepting connections: %v", err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Millisecond))
		_, _ = c.Write(frame)
		// Read whatever the receiver answers (an ack, or nothing) until it
		// closes or the deadline passes; either is fine.
		buf := make([]byte, 256)
		_, _ = c.Read(buf)
		c.Close()
		select {
		case err := <-fuzzGW.done:
			t.Fatalf("gateway stopped after frame %x: %v", frame, err)
		default:
		}
	})
}
