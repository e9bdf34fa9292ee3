package bench

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// The peer workload: what a platform team choosing a log store for
// OpenChoreo would load. Container logs of 20 namespaces, 200 components
// and 1,000 pods (five per component, over three environments), levels
// INFO/DEBUG/WARN/ERROR at 80/10/8/2 percent, each request logging one to
// four JSON lines that carry its request id; components are not equally
// chatty (weights fall off as 1/rank^0.8). The same records become OTLP
// log requests (what obsplane and VictoriaLogs receive), otel_logs batches
// (what the insert benchmark writes) and Fluent Bit container-logs
// documents (what OpenSearch holds). Everything is a function of the seed
// and the record's index, so every system gets identical data.

// Workload sizes one run.
type Workload struct {
	Logs, Traces int
	// PerRequest is records per OTLP request (the 5,000).
	PerRequest int
	Seed       uint64
	// Start is the first record's time; logs are spread evenly (with
	// jitter below the step) over Span, so every record has its own
	// millisecond, and OpenSearch's millisecond @timestamp orders rows
	// exactly as the nanosecond engines do.
	Start time.Time
	Span  time.Duration
}

// NewWorkload returns the workload of logs logs and traces traces, spread
// over two hours, or more when that would put two logs in one millisecond.
func NewWorkload(logs, traces int) *Workload {
	span := 2 * time.Hour
	if min := time.Duration(logs) * 2 * time.Millisecond; min > span {
		span = min.Round(time.Hour) + time.Hour
	}
	return &Workload{Logs: logs, Traces: traces, PerRequest: 5000, Seed: 12, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Span: span}
}

// End is just after the last record.
func (w *Workload) End() time.Time { return w.Start.Add(w.Span) }

// Requests is the number of OTLP log requests.
func (w *Workload) Requests() int { return (w.Logs + w.PerRequest - 1) / w.PerRequest }

// Pod is one workload pod and the resource its logs carry.
type Pod struct {
	Namespace, Project, Component, Environment string
	Name, UID, Node, K8sNamespace, Container   string
	Resource                                   map[string]string
	logger                                     string
}

var (
	wlNamespaces = []string{"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell", "cyberdyne",
		"soylent", "aperture", "vandelay", "dunder", "oscorp", "gringotts", "monarch", "nakatomi", "weyland", "massive"}
	wlComponents = []string{"api-gateway", "orders", "payments", "catalog", "users", "search", "cart", "checkout", "inventory", "shipping",
		"notifications", "auth", "billing", "recommendations", "reviews", "pricing", "ledger", "reports", "media", "profile",
		"sessions", "audit", "webhooks", "scheduler", "exporter", "importer", "quotes", "invoices", "tenants", "metrics-bridge"}
	wlProjects = []string{"storefront", "backoffice", "platform"}
	wlEnvs     = []string{"production", "production", "staging", "development", "development"}
	wlMethods  = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	wlPaths    = []string{"orders", "items", "users", "carts", "payments", "invoices", "sessions", "quotes"}
	// Messages name no level word (or a word containing one), so a level
	// found in the text by OpenSearch's wildcard is the line's own.
	wlMessages = map[string][]string{
		"INFO":  {"request completed", "order created", "cache hit for key", "user signed in", "payment captured", "item added to cart", "query served", "session refreshed", "message published", "page rendered"},
		"DEBUG": {"cache lookup", "sql statement prepared", "upstream headers received", "retry budget checked", "feature flag evaluated"},
		"WARN":  {"slow query detected", "retrying upstream call", "cache miss storm", "connection pool near capacity", "deprecated endpoint called"},
		"ERROR": {"payment declined by gateway", "upstream timeout after retries", "database connection reset", "order validation failed", "unhandled exception in handler"},
	}
	// Levels by cumulative percent: INFO 80, DEBUG 10, WARN 8, ERROR 2.
	wlLevels = []struct {
		cum  int
		text string
		num  plog.SeverityNumber
	}{{80, "INFO", plog.SeverityNumberInfo}, {90, "DEBUG", plog.SeverityNumberDebug}, {98, "WARN", plog.SeverityNumberWarn}, {100, "ERROR", plog.SeverityNumberError}}
)

// uid is a deterministic UUID-shaped id for name.
func uid(seed uint64, name string) string {
	r := rand.New(rand.NewPCG(seed, hashString(name)))
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Pods returns the 1,000 pods (20 namespaces x 10 components x 5 pods) and
// each component's weight (same order as the pods, five pods a component).
func (w *Workload) Pods() ([]*Pod, []float64) {
	r := rand.New(rand.NewPCG(w.Seed, 100))
	var pods []*Pod
	var weights []float64
	ranks := r.Perm(len(wlNamespaces) * 10)
	for ni, ns := range wlNamespaces {
		comps := r.Perm(len(wlComponents))[:10]
		for ci, c := range comps {
			comp := wlComponents[c]
			proj := wlProjects[ci%len(wlProjects)]
			weights = append(weights, 1/math.Pow(float64(ranks[ni*10+ci]+1), 0.8))
			hash := fmt.Sprintf("%08x", r.Uint32())[:8]
			for p := range 5 {
				env := wlEnvs[p]
				pod := &Pod{Namespace: ns, Project: proj, Component: comp, Environment: env,
					Name:         fmt.Sprintf("%s-%s-%s", comp, hash, strconv.FormatUint(uint64(r.Uint32()), 36)[:5]),
					Node:         fmt.Sprintf("node-%d", r.IntN(6)),
					K8sNamespace: fmt.Sprintf("dp-%s-%s-%s-%s", ns, proj, env, hash[:6]),
					Container:    "main",
					logger:       "com." + ns + "." + strings.ReplaceAll(comp, "-", "") + ".RequestController"}
				pod.UID = uid(w.Seed, pod.Name)
				pod.Resource = map[string]string{
					"service.name":               comp,
					"k8s.namespace.name":         pod.K8sNamespace,
					"k8s.pod.name":               pod.Name,
					"k8s.pod.uid":                pod.UID,
					"k8s.container.name":         pod.Container,
					"k8s.node.name":              pod.Node,
					"openchoreo.namespace":       ns,
					"openchoreo.project":         proj,
					"openchoreo.project.uid":     uid(w.Seed, ns+"/"+proj),
					"openchoreo.component":       comp,
					"openchoreo.component.uid":   uid(w.Seed, ns+"/"+proj+"/"+comp),
					"openchoreo.environment":     env,
					"openchoreo.environment.uid": uid(w.Seed, ns+"/env/"+env),
				}
				pods = append(pods, pod)
			}
		}
	}
	return pods, weights
}

// LogRecord is one generated container log line.
type LogRecord struct {
	Time      time.Time
	Pod       *Pod
	Level     string
	Severity  plog.SeverityNumber
	Body      string
	RequestID string
	Word      string // the message's last word (the benchmark's search term)
	TraceID   [16]byte
	SpanID    [8]byte
	Traced    bool
}

// picker draws a component index by weight.
type picker struct{ cum []float64 }

func newPicker(weights []float64) picker {
	cum := make([]float64, len(weights))
	s := 0.0
	for i, w := range weights {
		s += w
		cum[i] = s
	}
	for i := range cum {
		cum[i] /= s
	}
	return picker{cum}
}

func (p picker) pick(r *rand.Rand) int {
	return min(sort.SearchFloat64s(p.cum, r.Float64()), len(p.cum)-1)
}

// Request returns the records of OTLP request i (0-based): consecutive
// records, each request of a pod logging one to four lines in a row.
func (w *Workload) Request(i int, pods []*Pod, pk picker) []LogRecord {
	first := i * w.PerRequest
	n := min(w.PerRequest, w.Logs-first)
	r := rand.New(rand.NewPCG(w.Seed, uint64(i)+1000))
	step := w.Span / time.Duration(w.Logs)
	out := make([]LogRecord, 0, n)
	for len(out) < n {
		pod := pods[pk.pick(r)*5+r.IntN(5)]
		rid := fmt.Sprintf("%016x", r.Uint64())
		var tid [16]byte
		traced := r.IntN(10) < 3
		if traced {
			for k := range tid {
				tid[k] = byte(r.Uint32())
			}
		}
		method, path := wlMethods[r.IntN(len(wlMethods))], wlPaths[r.IntN(len(wlPaths))]
		user := r.IntN(50000)
		for k := 1 + r.IntN(4); k > 0 && len(out) < n; k-- {
			j := first + len(out)
			ts := w.Start.Add(time.Duration(j)*step + time.Duration(r.Int64N(int64(min(step/2, time.Millisecond)))))
			roll := r.IntN(100)
			lv := wlLevels[0]
			for _, l := range wlLevels {
				if roll < l.cum {
					lv = l
					break
				}
			}
			msgs := wlMessages[lv.text]
			msg := msgs[r.IntN(len(msgs))]
			status := 200
			switch lv.text {
			case "WARN":
				status = 429
			case "ERROR":
				status = 500 + r.IntN(4)
			}
			rec := LogRecord{Time: ts, Pod: pod, Level: lv.text, Severity: lv.num, RequestID: rid, Traced: traced, TraceID: tid}
			rec.Word = msg[strings.LastIndexByte(msg, ' ')+1:]
			if traced {
				for k := range rec.SpanID {
					rec.SpanID[k] = byte(r.Uint32())
				}
			}
			rec.Body = fmt.Sprintf(`{"time":"%s","level":"%s","logger":"%s","msg":"%s","request_id":"%s","method":"%s","path":"/api/v1/%s/%d","status":%d,"duration_ms":%d,"user":"u-%d"}`,
				ts.Format(time.RFC3339Nano), lv.text, pod.logger, msg, rid, method, path, r.IntN(100000), status, int(math.Exp(r.NormFloat64()*0.9+3)), user)
			out = append(out, rec)
		}
	}
	return out
}

// Records returns the records of every request, in order; meant for small
// workloads and tests (1M records take about 600 MB).
func (w *Workload) Records() []LogRecord {
	pods, weights := w.Pods()
	pk := newPicker(weights)
	var out []LogRecord
	for i := range w.Requests() {
		out = append(out, w.Request(i, pods, pk)...)
	}
	return out
}

// OTLPRequest renders records as one OTLP logs request: one ResourceLogs
// per pod (in order of first appearance), as a collector sends them.
func OTLPRequest(recs []LogRecord) plogotlp.ExportRequest {
	ld := plog.NewLogs()
	byPod := map[*Pod]plog.LogRecordSlice{}
	for _, rec := range recs {
		lrs, ok := byPod[rec.Pod]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			a := rl.Resource().Attributes()
			keys := make([]string, 0, len(rec.Pod.Resource))
			for k := range rec.Pod.Resource {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				a.PutStr(k, rec.Pod.Resource[k])
			}
			lrs = rl.ScopeLogs().AppendEmpty().LogRecords()
			byPod[rec.Pod] = lrs
		}
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(rec.Time))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(rec.Time))
		lr.SetSeverityText(rec.Level)
		lr.SetSeverityNumber(rec.Severity)
		lr.Body().SetStr(rec.Body)
		stream := "stdout"
		if rec.Level == "ERROR" {
			stream = "stderr"
		}
		lr.Attributes().PutStr("log.iostream", stream)
		if rec.Traced {
			lr.SetTraceID(rec.TraceID)
			lr.SetSpanID(rec.SpanID)
			lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
		}
	}
	return plogotlp.NewExportRequestFromLogs(ld)
}

// LogBatch renders records as the otel_logs rows the gateway's exporter
// writes for them.
func LogBatch(recs []LogRecord) *store.Batch {
	rows := schema.NewLogRows[map[string]string](len(recs))
	for _, rec := range recs {
		row := schema.LogRow[map[string]string]{Timestamp: rec.Time, SeverityText: rec.Level, SeverityNumber: uint8(rec.Severity),
			ServiceName: rec.Pod.Component, Body: rec.Body, ResourceAttributes: rec.Pod.Resource, ScopeAttributes: map[string]string{},
			LogAttributes: map[string]string{"log.iostream": stream(rec)}}
		if rec.Traced {
			row.TraceID, row.SpanID, row.TraceFlags = hex.EncodeToString(rec.TraceID[:]), hex.EncodeToString(rec.SpanID[:]), 1
		}
		rows.Append(row)
	}
	return rows.Batch("otel", "otel_logs")
}

func stream(rec LogRecord) string {
	if rec.Level == "ERROR" {
		return "stderr"
	}
	return "stdout"
}

// FluentBitDocuments renders records as the documents OpenChoreo's Fluent
// Bit writes into container-logs-YYYY-MM-DD: the raw line in log, the
// kubernetes filter's metadata with the pod labels (Replace_Dots on), and
// nothing else — no field a dual writer would add.
func FluentBitDocuments(recs []LogRecord) ([]opensearch.BulkDoc, error) {
	docs := make([]opensearch.BulkDoc, len(recs))
	for i, rec := range recs {
		p := rec.Pod
		ts := rec.Time.UTC()
		doc := fluentBitDoc{Timestamp: ts.Format("2006-01-02T15:04:05.000Z"), Log: rec.Body, Stream: stream(rec), Time: ts.Format(time.RFC3339Nano)}
		doc.Kubernetes.PodName, doc.Kubernetes.NamespaceName, doc.Kubernetes.PodID = p.Name, p.K8sNamespace, p.UID
		doc.Kubernetes.Host, doc.Kubernetes.ContainerName = p.Node, p.Container
		doc.Kubernetes.DockerID = p.UID[:8] + p.UID[9:13] + p.UID[14:18]
		doc.Kubernetes.ContainerImage = "registry.local/" + p.Namespace + "/" + p.Component + ":v1.4.2"
		doc.Kubernetes.Labels = map[string]string{
			"openchoreo_dev/namespace":       p.Namespace,
			"openchoreo_dev/project":         p.Project,
			"openchoreo_dev/project-uid":     p.Resource["openchoreo.project.uid"],
			"openchoreo_dev/component":       p.Component,
			"openchoreo_dev/component-uid":   p.Resource["openchoreo.component.uid"],
			"openchoreo_dev/environment":     p.Environment,
			"openchoreo_dev/environment-uid": p.Resource["openchoreo.environment.uid"],
			"pod-template-hash":              p.Name[len(p.Component)+1 : len(p.Component)+9],
		}
		src, err := jsonNoEscape(doc)
		if err != nil {
			return nil, err
		}
		docs[i] = opensearch.BulkDoc{Index: opensearch.ContainerLogsIndex(ts), Source: src}
	}
	return docs, nil
}

// fluentBitDoc is Fluent Bit's record after its kubernetes filter, in the
// order it writes the fields.
type fluentBitDoc struct {
	Timestamp  string `json:"@timestamp"`
	Log        string `json:"log"`
	Stream     string `json:"stream"`
	Time       string `json:"time"`
	Kubernetes struct {
		PodName        string            `json:"pod_name"`
		NamespaceName  string            `json:"namespace_name"`
		PodID          string            `json:"pod_id"`
		Labels         map[string]string `json:"labels"`
		Host           string            `json:"host"`
		ContainerName  string            `json:"container_name"`
		DockerID       string            `json:"docker_id"`
		ContainerImage string            `json:"container_image"`
	} `json:"kubernetes"`
}

// jsonNoEscape marshals v as one line with <, > and & kept as written, as
// Fluent Bit writes them.
func jsonNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// LogBatches returns every record as otel_logs batches of about rows rows
// (whole requests).
func (w *Workload) LogBatches(rows int) []*store.Batch {
	pods, weights := w.Pods()
	pk := newPicker(weights)
	per := max(1, rows/w.PerRequest)
	var out []*store.Batch
	for i := 0; i < w.Requests(); i += per {
		var recs []LogRecord
		for j := i; j < min(i+per, w.Requests()); j++ {
			recs = append(recs, w.Request(j, pods, pk)...)
		}
		out = append(out, LogBatch(recs))
	}
	return out
}
