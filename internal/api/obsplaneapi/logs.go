package obsplaneapi

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/tracingadapter"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

// LogLine is one log in /api/logs answers.
type LogLine struct {
	Timestamp   time.Time         `json:"timestamp"`
	Level       string            `json:"level"`
	Log         string            `json:"log"`
	Service     string            `json:"service"`
	Namespace   string            `json:"namespace,omitempty"`
	Project     string            `json:"project,omitempty"`
	Component   string            `json:"component,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Pod         string            `json:"pod,omitempty"`
	Container   string            `json:"container,omitempty"`
	TraceID     string            `json:"traceId,omitempty"`
	SpanID      string            `json:"spanId,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	// Cursor resumes after this line; empty from a store without cursors.
	Cursor string `json:"cursor"`
}

// LogsResponse is the JSON answer of /api/logs.
type LogsResponse struct {
	Logs []LogLine `json:"logs"`
	// NextCursor continues the listing; empty when there is no more.
	NextCursor string `json:"nextCursor,omitempty"`
}

// cursor is a readmodel.Cursor on the wire: the line's timestamp as the
// store renders it and its row key.
type cursor struct {
	TS  string `json:"t"`
	Key uint64 `json:"k"`
}

func encodeCursor(c *readmodel.Cursor) string {
	if c == nil {
		return ""
	}
	b, _ := json.Marshal(cursor{store.TimeParam(c.Time), c.Key})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*readmodel.Cursor, error) {
	bad := httpx.BadRequest("cursor is not valid (use nextCursor from a previous answer)")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, bad
	}
	t := store.ParseTime(c.TS)
	if t.IsZero() {
		return nil, bad
	}
	return &readmodel.Cursor{Time: t, Key: c.Key}, nil
}

func lineOf(l readmodel.LogLine) LogLine {
	return LogLine{Timestamp: l.Timestamp, Level: l.Level, Log: l.Body, Service: l.Service, Namespace: l.Namespace,
		Project: l.Project, Component: l.Component, Environment: l.Environment, Pod: l.Pod, Container: l.Container,
		TraceID: l.TraceID, SpanID: l.SpanID, Attributes: l.Attributes, Cursor: encodeCursor(l.Cursor)}
}

var logLevels = map[string]bool{"DEBUG": true, "INFO": true, "WARN": true, "ERROR": true, "FATAL": true, "SEVERE": true}

func (a *API) logs(w http.ResponseWriter, r *http.Request) error {
	f, ndjson, err := a.logFilter(r)
	if err != nil {
		return err
	}
	if ndjson {
		return streamLogs(w, r, a.Reads, f)
	}
	page, err := a.Reads.TailLogs(r.Context(), httpx.Tenancy(r), f)
	if err != nil {
		return err
	}
	out := &LogsResponse{Logs: make([]LogLine, 0, len(page.Lines)), NextCursor: encodeCursor(page.Next)}
	for _, l := range page.Lines {
		out.Logs = append(out.Logs, lineOf(l))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// logFilter parses /api/logs' parameters; ndjson reports a streamed answer.
func (a *API) logFilter(r *http.Request) (f readmodel.LogFilter, ndjson bool, err error) {
	p, err := readParams(r, "component", "project", "environment", "namespace", "level", "q", "since", "until", "tail", "cursor", "service", "traceId")
	if err != nil {
		return f, false, err
	}
	ndjson = strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
	maxTail := MaxTail
	if ndjson {
		maxTail = MaxStreamRows
	}
	f = readmodel.LogFilter{Service: p.str("service"), Search: p.str("q")}
	if f.Limit, err = p.intIn("tail", DefaultTail, 1, maxTail); err != nil {
		return f, false, err
	}
	if f.Selector, f.Window, err = a.selected(p); err != nil {
		return f, false, err
	}
	if t := p.str("traceId"); t != "" {
		if f.TraceID, err = tracingadapter.ValidTraceID(t); err != nil {
			return f, false, err
		}
	}
	if lv := p.str("level"); lv != "" {
		for _, l := range strings.Split(lv, ",") {
			l = strings.ToUpper(strings.TrimSpace(l))
			if l == "WARNING" {
				l = "WARN"
			}
			if !logLevels[l] {
				return f, false, httpx.BadRequest("level=%q: want a comma-separated list of DEBUG, INFO, WARN, ERROR, FATAL", httpx.Truncate(lv, 64))
			}
			f.Levels = append(f.Levels, l)
		}
	}
	if c := p.str("cursor"); c != "" {
		if f.After, err = decodeCursor(c); err != nil {
			return f, false, err
		}
	}
	return f, ndjson, nil
}

// streamLogs writes one JSON object per line as lines arrive. An error
// after the first line can no longer change the status, so it is written
// as a final {"error": ...} line.
func streamLogs(w http.ResponseWriter, r *http.Request, reads readmodel.Logs, f readmodel.LogFilter) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	flusher, _ := w.(http.Flusher)
	n, started := 0, false
	start := func() {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
	}
	err := reads.StreamLogs(r.Context(), httpx.Tenancy(r), f, func(l readmodel.LogLine) error {
		start()
		_ = enc.Encode(lineOf(l))
		n++
		if n%1000 == 0 {
			_ = bw.Flush()
			if flusher != nil {
				flusher.Flush()
			}
		}
		return nil
	})
	if err != nil {
		if !started {
			return fmt.Errorf("logs: %w", err)
		}
		_ = enc.Encode(map[string]string{"error": httpx.Classify(err).Message})
	}
	start()
	return bw.Flush()
}

func (a *API) traceLogs(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "tail")
	if err != nil {
		return err
	}
	q := readmodel.TraceLogsQuery{}
	if q.Limit, err = p.intIn("tail", 1000, 1, MaxTail); err != nil {
		return err
	}
	if q.TraceID, err = tracingadapter.ValidTraceID(r.PathValue("traceId")); err != nil {
		return err
	}
	lines, err := a.Reads.TraceLogs(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := LogsResponse{Logs: make([]LogLine, 0, len(lines))}
	for _, l := range lines {
		out.Logs = append(out.Logs, lineOf(l))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
