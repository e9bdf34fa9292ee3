package chhttp

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// contentType is the Content-Type ClickHouse sends for a format.
func contentType(format string) string {
	f := strings.ToLower(format)
	switch {
	case f == "tabseparated" || f == "tsv" || strings.HasPrefix(f, "tabseparated") || strings.HasPrefix(f, "tsv") || f == "tskv":
		return "text/tab-separated-values; charset=UTF-8"
	case f == "csv":
		return "text/csv; charset=UTF-8; header=absent"
	case strings.HasPrefix(f, "csv"):
		return "text/csv; charset=UTF-8; header=present"
	case f == "jsoneachrow" || f == "jsonlines" || f == "ndjson" || strings.Contains(f, "eachrow"):
		return "application/x-ndjson; charset=UTF-8"
	case strings.HasPrefix(f, "json"):
		return "application/json; charset=UTF-8"
	case f == "xml":
		return "application/xml; charset=UTF-8"
	case f == "markdown" || f == "md":
		return "text/markdown; charset=UTF-8"
	case strings.HasPrefix(f, "pretty") || f == "vertical" || f == "values" || f == "null" || f == "raw" || strings.HasPrefix(f, "raw") || f == "lineasstring" || f == "sqlinsert" || f == "prometheus":
		return "text/plain; charset=UTF-8"
	}
	return "application/octet-stream"
}

// summary is X-ClickHouse-Summary: the engine's counters so far.
func summary(s chdb.Stats) string {
	b, _ := json.Marshal(map[string]string{
		"read_rows":          strconv.FormatUint(s.RowsRead, 10),
		"read_bytes":         strconv.FormatUint(s.BytesRead, 10),
		"written_rows":       strconv.FormatUint(s.RowsWritten, 10),
		"written_bytes":      strconv.FormatUint(s.BytesWritten, 10),
		"total_rows_to_read": strconv.FormatUint(s.RowsRead, 10),
		"result_rows":        "0",
		"result_bytes":       "0",
		"elapsed_ns":         strconv.FormatInt(s.Elapsed.Nanoseconds(), 10),
		"memory_usage":       "0",
	})
	return string(b)
}

// sink is the response body: the engine's bytes go through the Native
// reframer (client_protocol_version), ClickHouse's block compression
// (compress=1) and HTTP compression, in that order, as in ClickHouse.
type sink struct {
	w       http.ResponseWriter
	enc     io.WriteCloser // HTTP compression, or nil
	native  *nativeCompressor
	reframe *reframer
	out     io.Writer // after the reframer
}

func (h *Handler) newSink(w http.ResponseWriter, req *request, format, accept string) (*sink, error) {
	s := &sink{w: w}
	s.out = w
	if req.httpCompression {
		if enc := responseEncoding(accept); enc != "" {
			e, err := encoder(w, enc, req.httpZlibLevel)
			if err != nil {
				return nil, err
			}
			w.Header().Set("Content-Encoding", enc)
			s.enc = e
			s.out = e
		}
	}
	if req.compress {
		s.native = newNativeCompressor(s.out, req.networkMethod)
		s.out = s.native
	}
	if strings.EqualFold(format, "Native") && req.clientProtocolVersion > 0 {
		s.reframe = newReframer(req.clientProtocolVersion, func(b []byte) error {
			_, err := s.out.Write(b)
			return err
		})
	}
	return s, nil
}

func (s *sink) write(b []byte) error {
	if s.reframe != nil {
		return s.reframe.write(b)
	}
	_, err := s.out.Write(b)
	return err
}

func (s *sink) flush() {
	if f, ok := s.enc.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// finish ends the body; err, when not nil, is written into it as
// ClickHouse frames an exception after the response started.
func (s *sink) finish(err error, tag, version string) error {
	if err == nil && s.reframe != nil {
		err = s.reframe.finish()
	}
	if err != nil {
		msg := asException(err).text(version) + "\n"
		frame := "\r\n__exception__\r\n" + tag + "\r\n" + msg + strconv.Itoa(len(msg)) + " " + tag + "\r\n__exception__\r\n"
		_, _ = io.WriteString(s.out, frame)
	}
	if s.enc != nil {
		if cerr := s.enc.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// respond writes a successful start (the first chunk) and streams the rest.
func (h *Handler) respond(w *statusWriter, r *http.Request, req *request, out output, first []byte, format, tag string) error {
	if req.waitEndOfQuery {
		// The whole answer is read before the status is sent, so an error
		// anywhere still gets its own status.
		f, err := os.CreateTemp(h.st.SpoolDir(), "http-*.out")
		if err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		for b := first; b != nil; {
			if _, err := f.Write(b); err != nil {
				h.fail(w, r, err, tag)
				return err
			}
			if b, err = out.Next(); err != nil {
				h.fail(w, r, err, tag)
				return err
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		return h.stream(w, r, req, out, f, nil, format, tag)
	}
	return h.stream(w, r, req, out, nil, first, format, tag)
}

// stream writes the headers and the body: from buffered when not nil, else
// first and what follows from the engine.
func (h *Handler) stream(w *statusWriter, r *http.Request, req *request, out output, buffered io.Reader, first []byte, format, tag string) error {
	hdr := w.Header()
	hdr.Set("Content-Type", contentType(format))
	hdr.Set("X-ClickHouse-Query-Id", req.queryID)
	hdr.Set("X-ClickHouse-Format", format)
	tz := h.timezone
	if req.timezone != "" {
		tz = req.timezone
	}
	hdr.Set("X-ClickHouse-Timezone", tz)
	hdr.Set("X-ClickHouse-Exception-Tag", tag)
	hdr.Set("X-ClickHouse-Summary", summary(out.Stats()))
	s, err := h.newSink(w, req, format, r.Header.Get("Accept-Encoding"))
	if err != nil {
		h.fail(w, r, err, tag)
		return err
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if buffered != nil {
		buf := make([]byte, 1<<20)
		for {
			n, rerr := buffered.Read(buf)
			if n > 0 {
				if err := s.write(buf[:n]); err != nil {
					return s.finish(err, tag, h.version)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return s.finish(rerr, tag, h.version)
			}
		}
		return s.finish(nil, tag, h.version)
	}
	for b := first; b != nil; {
		if err := s.write(b); err != nil {
			return s.finish(err, tag, h.version)
		}
		s.flush()
		var err error
		if b, err = out.Next(); err != nil {
			return s.finish(err, tag, h.version)
		}
	}
	return s.finish(nil, tag, h.version)
}
