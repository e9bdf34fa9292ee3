package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ScrapeGatherer reads a Prometheus text endpoint on each gather. The
// collector framework serves its own telemetry (otelcol_* queue sizes,
// refused and sent items) through its OTel SDK on a listener of its own;
// scraping that loopback listener folds those series into obsplane's one
// /metrics instead of asking operators to scrape a second port.
type ScrapeGatherer struct {
	URL    string
	Client *http.Client
}

// Gather implements prometheus.Gatherer. An endpoint that is not up yet
// (the collector still starting) gathers nothing rather than failing the
// whole /metrics answer.
func (s ScrapeGatherer) Gather() ([]*dto.MetricFamily, error) {
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", s.URL, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.URL, err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out, nil
}
