package metricsql

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// PodLabels is a pod's newest kube_pod_labels series.
type PodLabels struct {
	Namespace string            `json:"ns"`
	Pod       string            `json:"pod"`
	Labels    map[string]string `json:"labels"`
}

// PodLabels returns the newest kube_pod_labels series of every pod seen
// since since.
func (db *DB) PodLabels(ctx context.Context, since time.Time) ([]PodLabels, error) {
	dbName, err := db.database()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "podlabels.sql", queryData{DB: dbName}); err != nil {
		return nil, err
	}
	rows, err := store.ScanAll[PodLabels](ctx, db.Store, b.String(), store.Params{"since": strconv.FormatInt(since.Unix(), 10)}, db.Settings...)
	if err != nil {
		return nil, fmt.Errorf("metricsql: pod labels: %w", err)
	}
	return rows, nil
}
