package metricsadapter_test

import (
	"testing"

	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var engine *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &engine) }
