// Package dualwritetest sends test data through the gateway's two real
// exporters, clickhousestore into a store and opensearch (dual write) into a
// real OpenSearch, so parity tests compare the two stores holding exactly
// what the gateway writes.
package dualwritetest

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/openchoreo/obsplane/internal/gateway/exporter/clickhousestoreexporter"
	"github.com/openchoreo/obsplane/internal/gateway/exporter/opensearchexporter"
	"github.com/openchoreo/obsplane/internal/store"
)

// Logs delivers ld to st and to the OpenSearch at osURL, and returns once
// both exporters have drained their queues (the caller refreshes the
// indices it reads).
func Logs(t testing.TB, st store.Store, osURL string, ld plog.Logs) {
	t.Helper()
	ctx := context.Background()
	chF, osF := clickhousestoreexporter.NewFactory(st), opensearchexporter.NewFactory()
	ch, err := chF.CreateLogs(ctx, exportertest.NewNopSettings(clickhousestoreexporter.Type), chF.CreateDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	os, err := osF.CreateLogs(ctx, exportertest.NewNopSettings(opensearchexporter.Type), osConfig(osF.CreateDefaultConfig(), osURL))
	if err != nil {
		t.Fatal(err)
	}
	run(t, ch, os, func(e any) error {
		return e.(interface {
			ConsumeLogs(context.Context, plog.Logs) error
		}).ConsumeLogs(ctx, ld)
	})
}

// Traces is Logs for spans.
func Traces(t testing.TB, st store.Store, osURL string, td ptrace.Traces) {
	t.Helper()
	ctx := context.Background()
	chF, osF := clickhousestoreexporter.NewFactory(st), opensearchexporter.NewFactory()
	ch, err := chF.CreateTraces(ctx, exportertest.NewNopSettings(clickhousestoreexporter.Type), chF.CreateDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	os, err := osF.CreateTraces(ctx, exportertest.NewNopSettings(opensearchexporter.Type), osConfig(osF.CreateDefaultConfig(), osURL))
	if err != nil {
		t.Fatal(err)
	}
	run(t, ch, os, func(e any) error {
		return e.(interface {
			ConsumeTraces(context.Context, ptrace.Traces) error
		}).ConsumeTraces(ctx, td)
	})
}

// StoreTraces delivers td to st through the clickhousestore exporter alone
// (tests of the read side that need no OpenSearch), returning once it has
// drained its queue.
func StoreTraces(t testing.TB, st store.Store, td ptrace.Traces) {
	t.Helper()
	ctx := context.Background()
	f := clickhousestoreexporter.NewFactory(st)
	ch, err := f.CreateTraces(ctx, exportertest.NewNopSettings(clickhousestoreexporter.Type), f.CreateDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	host := componenttest.NewNopHost()
	if err := ch.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := ch.ConsumeTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	if err := ch.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func osConfig(c component.Config, url string) component.Config {
	cfg := c.(*opensearchexporter.Config)
	cfg.Enabled, cfg.Endpoint = true, url
	return cfg
}

// run starts both exporters, hands them the data and shuts them down, which
// drains their queues.
func run(t testing.TB, ch, os component.Component, consume func(any) error) {
	t.Helper()
	ctx := context.Background()
	host := componenttest.NewNopHost()
	for _, e := range []component.Component{ch, os} {
		if err := e.Start(ctx, host); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []component.Component{ch, os} {
		if err := consume(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []component.Component{ch, os} {
		if err := e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
