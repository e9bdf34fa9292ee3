package promtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"

	"github.com/golang/snappy"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
)

// Jobs of the paths, as the example cluster's scrape jobs name them.
var jobOf = map[string]string{"/ksm": "kube-state-metrics", "/cadvisor": "cadvisor", "/hubble": "hubble"}

// Scrape returns the next scrape of every path as remote write series, the
// way Prometheus would send them (job and instance labels added), or nil
// when every path has served its Scrapes.
func (c *Cluster) Scrape(instance string) ([]prompb.TimeSeries, error) {
	var out []prompb.TimeSeries
	for _, path := range []string{"/ksm", "/cadvisor", "/hubble"} {
		if c.Scraped(path) >= c.o.Scrapes {
			continue
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(rec.Body)
		if err != nil {
			return nil, fmt.Errorf("promtest: parse %s: %w", path, err)
		}
		names := make([]string, 0, len(fams))
		for n := range fams {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			for _, m := range fams[n].Metric {
				ls := []prompb.Label{{Name: "__name__", Value: n}, {Name: "instance", Value: instance}, {Name: "job", Value: jobOf[path]}}
				for _, l := range m.Label {
					ls = append(ls, prompb.Label{Name: l.GetName(), Value: l.GetValue()})
				}
				sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
				var v float64
				switch {
				case m.Untyped != nil:
					v = m.Untyped.GetValue()
				case m.Gauge != nil:
					v = m.Gauge.GetValue()
				case m.Counter != nil:
					v = m.Counter.GetValue()
				}
				out = append(out, prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: v, Timestamp: m.GetTimestampMs()}}})
			}
		}
	}
	return out, nil
}

// Push sends the cluster's remaining scrapes to every remote write URL,
// batch samples per request, in time order: the same samples to each.
// progress, when set, is called with the samples sent so far.
func (c *Cluster) Push(ctx context.Context, urls []string, batch int, progress func(int)) (int, error) {
	sent := 0
	var pending []prompb.TimeSeries
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		raw, err := (&prompb.WriteRequest{Timeseries: pending}).Marshal()
		if err != nil {
			return err
		}
		body := snappy.Encode(nil, raw)
		for _, u := range urls {
			if err := post(ctx, u, body); err != nil {
				return err
			}
		}
		sent += len(pending)
		pending = pending[:0]
		if progress != nil {
			progress(sent)
		}
		return nil
	}
	for {
		ts, err := c.Scrape("127.0.0.1:9100")
		if err != nil {
			return sent, err
		}
		if len(ts) == 0 {
			break
		}
		for _, s := range ts {
			pending = append(pending, s)
			if len(pending) >= batch {
				if err := flush(); err != nil {
					return sent, err
				}
			}
		}
	}
	return sent, flush()
}

func post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("promtest: remote write to %s: %s: %s", url, resp.Status, b)
	}
	return nil
}
