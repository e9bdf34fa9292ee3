package promremotewritereceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
)

type rwReceiver struct {
	cfg    *Config
	set    receiver.Settings
	next   consumer.Metrics
	obsrep *receiverhelper.ObsReport
	md     metadata

	server *http.Server
	wg     sync.WaitGroup
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Metrics) (*rwReceiver, error) {
	obsrep, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: "http", ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	return &rwReceiver{cfg: cfg, set: set, next: next, obsrep: obsrep, md: metadata{max: cfg.MetadataCacheSize}}, nil
}

func (r *rwReceiver) Start(ctx context.Context, host component.Host) error {
	mux := http.NewServeMux()
	mux.HandleFunc(r.cfg.Path, r.handle)
	var err error
	r.server, err = r.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux)
	if err != nil {
		return err
	}
	// Outermost, so it sees the request as sent: confighttp removes
	// Content-Encoding once it has decoded the body.
	r.server.Handler = requireSnappy(r.server.Handler)
	ln, err := r.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("promremotewrite: listen on %s: %w", r.cfg.NetAddr.Endpoint, err)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

func (r *rwReceiver) Shutdown(ctx context.Context) error {
	if r.server == nil {
		return nil
	}
	err := r.server.Shutdown(ctx)
	r.wg.Wait()
	return err
}

// handle answers one remote write request. The body has been snappy-decoded
// and bounded by confighttp when Content-Encoding says snappy.
func (r *rwReceiver) handle(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "remote write takes POST", http.StatusMethodNotAllowed)
		return
	}
	if status, msg := checkHeaders(req.Header); status != 0 {
		http.Error(w, msg, status)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		// confighttp's limit or a broken snappy stream.
		status := http.StatusBadRequest
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "read body: "+err.Error(), status)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(body); err != nil {
		http.Error(w, "body is not a snappy-compressed prometheus.WriteRequest (remote write 1.0): "+err.Error(), http.StatusBadRequest)
		return
	}
	r.md.put(wr.Metadata)
	md, points, err := toMetrics(&wr, &r.md, r.cfg.MaxSeriesPerRequest)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if points == 0 {
		// Metadata-only requests (send_metadata) carry no samples.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ctx := r.obsrep.StartMetricsOp(req.Context())
	err = r.next.ConsumeMetrics(ctx, md)
	r.obsrep.EndMetricsOp(ctx, "prometheus", points, err)
	if err != nil {
		status := http.StatusServiceUnavailable
		if consumererror.IsPermanent(err) {
			status = http.StatusBadRequest
		}
		r.set.Logger.Debug("remote write refused by the pipeline", zap.Error(err), zap.Int("status", status))
		http.Error(w, err.Error(), status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requireSnappy refuses bodies that are not snappy-compressed: remote write
// requires it, and confighttp would otherwise take any encoding or none.
func requireSnappy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && !strings.EqualFold(strings.TrimSpace(req.Header.Get("Content-Encoding")), "snappy") {
			http.Error(w, "Content-Encoding must be snappy (remote write bodies are snappy-compressed protobuf)", http.StatusUnsupportedMediaType)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// checkHeaders refuses what is not remote write 1.0: another content type,
// or remote write 2.0 (io.prometheus.write.v2.Request), whose senders fall
// back to 1.0 on 415.
func checkHeaders(h http.Header) (int, string) {
	if ct := h.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return http.StatusUnsupportedMediaType, "Content-Type " + ct + " is not a media type"
		}
		if mt != "application/x-protobuf" {
			return http.StatusUnsupportedMediaType, "Content-Type " + mt + ": remote write takes application/x-protobuf"
		}
		if p := params["proto"]; p != "" && p != "prometheus.WriteRequest" {
			return http.StatusUnsupportedMediaType, "proto=" + p + ": this receiver takes remote write 1.0 (prometheus.WriteRequest) only"
		}
	}
	return 0, ""
}
