package obsplaneapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// PPLRequest is POST /api/v1/ppl, in the shape of OpenSearch's _plugins/_ppl.
type PPLRequest struct {
	Query string `json:"query"`
}

// PPLResponse follows OpenSearch's PPL response: a schema of named columns
// and the rows as arrays in that order, so clients written for OpenSearch
// read it unchanged.
type PPLResponse struct {
	Schema   []PPLColumn         `json:"schema"`
	Datarows [][]json.RawMessage `json:"datarows"`
	Total    int                 `json:"total"`
	Size     int                 `json:"size"`
}

// PPLColumn names one output column.
type PPLColumn struct {
	Name string `json:"name"`
}

// ppl runs the query for the caller's namespaces; the read model compiles
// the scope into the statement, outside anything the query says. The answer
// is streamed as the engine produces rows, in OpenSearch's shape (schema,
// datarows, then total and size), so an answer of the row cap costs a few
// buffers, not its size. An error after the first byte can no longer change
// the status: the connection is then closed without the closing brace, so
// no client takes a cut answer for a whole one.
func (a *API) ppl(w http.ResponseWriter, r *http.Request) error {
	var req PPLRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Query == "" {
		return httpx.BadRequest("query: required")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	flusher, _ := w.(http.Flusher)
	n := 0
	started := false
	head := func(cols []string) error {
		schema := make([]PPLColumn, 0, len(cols))
		for _, c := range cols {
			schema = append(schema, PPLColumn{Name: c})
		}
		b, err := json.Marshal(schema)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		started = true
		_, _ = bw.WriteString(`{"schema":`)
		_, _ = bw.Write(b)
		_, err = bw.WriteString(`,"datarows":[`)
		return err
	}
	each := func(row []json.RawMessage) error {
		if n > 0 {
			_ = bw.WriteByte(',')
		}
		b, err := json.Marshal(row)
		if err != nil {
			return err
		}
		if _, err := bw.Write(b); err != nil {
			return err // the client went away, or the response cap: stop the query
		}
		n++
		if n%1000 == 0 && flusher != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
			flusher.Flush()
		}
		return nil
	}
	err := a.Reads.StreamPPL(r.Context(), httpx.Tenancy(r), readmodel.PPLQuery{Query: req.Query, MaxRows: a.MaxRows}, head, each)
	if err != nil {
		if !started {
			return err
		}
		a.Log.Warn("ppl: answer cut after its first byte", "rows", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	fmt.Fprintf(bw, `],"total":%d,"size":%d}`+"\n", n, n)
	return bw.Flush()
}
