package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/openchoreo/obsplane/internal/readmodel"
)

// TestClassify: a read model error answers with the status its kind means
// and keeps its message (a limit its code too); anything else is a 500 that
// tells the caller nothing of the cause.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{readmodel.Invalid("q: at position 3: bad"), http.StatusBadRequest, "", "q: at position 3: bad"},
		{fmt.Errorf("logs: %w", readmodel.Forbidden("no namespace")), http.StatusForbidden, "", "no namespace"},
		{readmodel.NotFound("trace x not found"), http.StatusNotFound, "", "trace x not found"},
		{readmodel.Limit("OBS-QUERY-TIMEOUT", "too slow"), http.StatusUnprocessableEntity, "OBS-QUERY-TIMEOUT", "too slow"},
		{BadRequest("limit 0"), http.StatusBadRequest, "", "limit 0"},
		{errors.New("dial tcp 10.0.0.1:9000: refused"), http.StatusInternalServerError, "OBS-INTERNAL", "internal server error"},
		{readmodel.NotSupported("ppl"), http.StatusInternalServerError, "OBS-INTERNAL", "internal server error"},
	} {
		e := Classify(tc.err)
		if e.Status != tc.status || e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("%v: %d %q %q, want %d %q %q", tc.err, e.Status, e.Code, e.Message, tc.status, tc.code, tc.msg)
		}
	}
}
