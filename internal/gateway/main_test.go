package gateway

import (
	"testing"

	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

// The engine is process-global: one store for the whole test binary.
var engine *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &engine) }
