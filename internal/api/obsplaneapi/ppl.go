package obsplaneapi

import (
	"encoding/json"
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
// the scope into the statement, outside anything the query says.
func (a *API) ppl(w http.ResponseWriter, r *http.Request) error {
	var req PPLRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Query == "" {
		return httpx.BadRequest("query: required")
	}
	t, err := a.Reads.PPL(r.Context(), httpx.Tenancy(r), readmodel.PPLQuery{Query: req.Query, MaxRows: a.MaxRows})
	if err != nil {
		return err
	}
	out := PPLResponse{Schema: make([]PPLColumn, 0, len(t.Columns)), Datarows: t.Rows, Total: len(t.Rows), Size: len(t.Rows)}
	for _, c := range t.Columns {
		out.Schema = append(out.Schema, PPLColumn{Name: c})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
