package obsplaneapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/query"
	"github.com/openchoreo/obsplane/internal/store"
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

// ppl compiles the query for the caller's namespaces (the scope is ANDed
// into the SQL by the compiler, outside anything the query says) and runs
// it with the API's limits.
func (a *API) ppl(w http.ResponseWriter, r *http.Request) error {
	var req PPLRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Query == "" {
		return httpx.BadRequest("query: required")
	}
	p := auth.FromContext(r.Context())
	c, err := query.CompilePPL(req.Query, query.Scope{All: p.All, Namespaces: p.Namespaces}, query.Options{MaxRows: int64(a.Limits.MaxResultRows)})
	if err != nil {
		var se *query.SyntaxError
		switch {
		case errors.As(err, &se):
			return httpx.BadRequest("query: %s", se.Error())
		case errors.Is(err, query.ErrEmptyScope):
			return httpx.Forbidden("the caller may read no namespace")
		}
		return httpx.BadRequest("query: %v", err)
	}
	out := PPLResponse{Schema: []PPLColumn{}, Datarows: [][]json.RawMessage{}}
	var keys []string
	for _, col := range c.Columns {
		out.Schema = append(out.Schema, PPLColumn{Name: col.Name})
		keys = append(keys, col.Key)
	}
	err = a.query(r.Context(), c.SQL, c.Params, func(rows store.Rows) error {
		var m map[string]json.RawMessage
		if err := rows.Scan(&m); err != nil {
			return err
		}
		if c.Star && len(out.Datarows) == 0 {
			// Every table column, in the engine's order, then the eval'd ones.
			var ordered []string
			if err := orderedKeys(rows.Raw(), &ordered); err != nil {
				return err
			}
			out.Schema, keys = out.Schema[:0], keys[:0]
			for _, k := range ordered {
				out.Schema = append(out.Schema, PPLColumn{Name: k})
				keys = append(keys, k)
			}
		}
		row := make([]json.RawMessage, len(keys))
		for i, k := range keys {
			if v, ok := m[k]; ok {
				row[i] = v
			} else {
				row[i] = json.RawMessage("null")
			}
		}
		out.Datarows = append(out.Datarows, row)
		return nil
	})
	if err != nil {
		return httpx.QueryTextError(err)
	}
	out.Total, out.Size = len(out.Datarows), len(out.Datarows)
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// orderedKeys lists a JSON object's keys in document order.
func orderedKeys(obj []byte, out *[]string) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		*out = append(*out, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}
