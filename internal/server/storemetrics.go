package server

import (
	"context"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/store"
)

// storeCollector reports, at each scrape, whether the store answers a query
// and how much disk it has left, so that the ClickHouseDown and DiskSpaceHigh
// alerts (deploy/prometheus) see the state of the moment rather than of the
// last readiness probe. The disks come from the engine's system.disks (the
// embedded engine's data directory, or every disk of a ClickHouse server);
// the data directory's file system, which holds the gateway's disk queues,
// is measured directly.
type storeCollector struct {
	st      store.Store
	dataDir string
	log     *slog.Logger

	up, diskFree, diskSize, dataFree, dataSize *prometheus.Desc

	mu      sync.Mutex
	disks   []diskRow
	disksAt time.Time
}

type diskRow struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Free  uint64 `json:"free_space"`
	Total uint64 `json:"total_space"`
}

// diskCacheTTL bounds how often a scrape queries system.disks.
const diskCacheTTL = 30 * time.Second

func newStoreCollector(st store.Store, dataDir string, log *slog.Logger) *storeCollector {
	return &storeCollector{
		st: st, dataDir: dataDir, log: log,
		up: prometheus.NewDesc("obsplane_store_up",
			"1 when the store answered a query during this scrape (2 s timeout), 0 otherwise.", nil, nil),
		diskFree: prometheus.NewDesc("obsplane_store_disk_available_bytes",
			"Free bytes on each of the store's disks (system.disks free_space).", []string{"disk", "path"}, nil),
		diskSize: prometheus.NewDesc("obsplane_store_disk_size_bytes",
			"Size in bytes of each of the store's disks (system.disks total_space).", []string{"disk", "path"}, nil),
		dataFree: prometheus.NewDesc("obsplane_data_dir_available_bytes",
			"Bytes available to obsplane on the file system of --data (queues, checkpoints, the embedded store).", nil, nil),
		dataSize: prometheus.NewDesc("obsplane_data_dir_size_bytes",
			"Size in bytes of the file system of --data.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.diskFree
	ch <- c.diskSize
	ch <- c.dataFree
	ch <- c.dataSize
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := 0.0
	if err := c.st.Ping(ctx); err == nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	for _, d := range c.diskRows(ctx, up == 1) {
		ch <- prometheus.MustNewConstMetric(c.diskFree, prometheus.GaugeValue, float64(d.Free), d.Name, d.Path)
		ch <- prometheus.MustNewConstMetric(c.diskSize, prometheus.GaugeValue, float64(d.Total), d.Name, d.Path)
	}
	if c.dataDir != "" {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(c.dataDir, &fs); err == nil {
			ch <- prometheus.MustNewConstMetric(c.dataFree, prometheus.GaugeValue, float64(fs.Bavail)*float64(fs.Bsize))
			ch <- prometheus.MustNewConstMetric(c.dataSize, prometheus.GaugeValue, float64(fs.Blocks)*float64(fs.Bsize))
		}
	}
}

// diskRows returns system.disks, queried at most every diskCacheTTL; an
// unreachable store leaves the last known rows.
func (c *storeCollector) diskRows(ctx context.Context, reachable bool) []diskRow {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reachable && time.Since(c.disksAt) >= diskCacheTTL {
		rows, err := store.ScanAll[diskRow](ctx, c.st, "SELECT name, path, free_space, total_space FROM system.disks", nil)
		if err != nil {
			c.log.Warn("system.disks", "err", err)
		} else {
			c.disks, c.disksAt = rows, time.Now()
		}
	}
	return c.disks
}
