// Package promtest gives tests and benchmarks the real components of the
// metrics path: Debian's Prometheus (scripts/install-prometheus.sh), and a
// synthetic Kubernetes cluster that exposes the series OpenChoreo's metrics
// module reads, shaped as kube-state-metrics, cAdvisor and Hubble expose
// them, for that Prometheus to scrape.
//
// The cluster runs on virtual time: every scrape of a path advances that
// path's clock by Step and stamps its samples with it (Prometheus honours
// exposed timestamps), so a one-second scrape interval yields minutes of
// 20-second samples in seconds. After Scrapes scrapes a path answers
// nothing new (an empty body: the staleness markers Prometheus then writes
// at the real time are older than the virtual samples, so its TSDB refuses
// them), and the data stands still for comparison.
package promtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pod is one pod of the synthetic cluster.
type Pod struct {
	K8sNamespace, Name string
	// OpenChoreo labels; Component empty means a pod without them.
	Namespace, Project, ProjectUID, Component, ComponentUID, Environment, EnvironmentUID string
	// StopsRunningAt is the kube-state-metrics scrape from which the pod's
	// phase is no longer Running (0: always running).
	StopsRunningAt int
	// RestartAt is the cAdvisor scrape at which its container's counters
	// restart from zero (0: never).
	RestartAt int
}

// Call is HTTP traffic Hubble sees from one pod to another.
type Call struct {
	From, To int // indexes into Pods
	// PerScrape is the mean number of requests between two scrapes.
	PerScrape float64
	// ErrorShare of requests answer 5xx, NotFoundShare 404.
	ErrorShare, NotFoundShare float64
	// RestartAt is the Hubble scrape at which its counters restart (0:
	// never).
	RestartAt int
}

// ClusterOptions describe the cluster.
type ClusterOptions struct {
	Pods  []Pod
	Calls []Call
	// Start is the virtual time of the first scrape; Step the virtual time
	// between two scrapes of a path.
	Start time.Time
	Step  time.Duration
	// Scrapes is how many scrapes of a path advance its clock.
	Scrapes int
	// HubbleAfter holds cAdvisor and Hubble back until kube-state-metrics
	// was scraped this many times, as in a cluster, where kube-state-metrics
	// reports a pod from its creation and its containers only run later.
	HubbleAfter int
	// Seed makes the values reproducible.
	Seed uint64
}

// Offsets of each path's samples within a second, so sample times are not
// whole seconds (Prometheus keeps milliseconds).
var offsets = map[string]time.Duration{"/ksm": 137 * time.Millisecond, "/cadvisor": 512 * time.Millisecond, "/hubble": 873 * time.Millisecond}

// Buckets of Hubble's request duration histogram.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Cluster serves /ksm, /cadvisor and /hubble.
type Cluster struct {
	o   ClusterOptions
	mu  sync.Mutex
	rng *rand.Rand
	n   map[string]int    // scrapes served per path
	out map[string][]byte // last answer per path

	cpu, net, fs []float64 // per pod counters
	calls        []callState
}

type callState struct {
	req     map[string]float64 // by status
	buckets []float64
	sum     float64
	count   float64
}

// NewCluster returns the cluster at its first scrape.
func NewCluster(o ClusterOptions) *Cluster {
	c := &Cluster{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), n: map[string]int{}, out: map[string][]byte{},
		cpu: make([]float64, len(o.Pods)), net: make([]float64, len(o.Pods)), fs: make([]float64, len(o.Pods))}
	for range o.Calls {
		c.calls = append(c.calls, callState{req: map[string]float64{}, buckets: make([]float64, len(Buckets)+1)})
	}
	return c
}

// Scraped returns how many scrapes of path advanced its clock.
func (c *Cluster) Scraped(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return min(c.n[path], c.o.Scrapes)
}

// Done reports whether every path has reached Scrapes.
func (c *Cluster) Done() bool {
	for p := range offsets {
		if c.Scraped(p) < c.o.Scrapes {
			return false
		}
	}
	return true
}

// LastTime is the virtual time of a path's last sample.
func (c *Cluster) LastTime(path string) time.Time {
	return c.o.Start.Add(time.Duration(c.o.Scrapes-1)*c.o.Step + offsets[path])
}

// ServeHTTP answers a scrape.
func (c *Cluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := offsets[r.URL.Path]; !ok {
		http.NotFound(w, r)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	path := r.URL.Path
	if path != "/ksm" && c.n["/ksm"] < c.o.HubbleAfter {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		return
	}
	if c.n[path] >= c.o.Scrapes {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		return
	}
	{
		k := c.n[path]
		ts := c.o.Start.Add(time.Duration(k)*c.o.Step + offsets[path]).UnixMilli()
		var b strings.Builder
		switch path {
		case "/ksm":
			c.ksm(&b, k, ts)
		case "/cadvisor":
			c.cadvisor(&b, k, ts)
		case "/hubble":
			c.hubble(&b, k, ts)
		}
		c.out[path] = []byte(b.String())
		c.n[path]++
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write(c.out[path])
}

func line(b *strings.Builder, name string, labels []string, v float64, ts int64) {
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteByte('}')
	fmt.Fprintf(b, " %s %d\n", formatFloat(v), ts)
}

func formatFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (c *Cluster) ksm(b *strings.Builder, k int, ts int64) {
	for _, p := range c.o.Pods {
		ls := []string{"namespace", p.K8sNamespace, "pod", p.Name, "uid", "uid-" + p.Name}
		if p.Component != "" {
			ls = append(ls, "label_openchoreo_dev_namespace", p.Namespace, "label_openchoreo_dev_project", p.Project,
				"label_openchoreo_dev_project_uid", p.ProjectUID, "label_openchoreo_dev_component", p.Component,
				"label_openchoreo_dev_component_uid", p.ComponentUID, "label_openchoreo_dev_environment", p.Environment,
				"label_openchoreo_dev_environment_uid", p.EnvironmentUID)
		}
		line(b, "kube_pod_labels", ls, 1, ts)
		running := 1.0
		if p.StopsRunningAt > 0 && k >= p.StopsRunningAt {
			running = 0
		}
		for _, phase := range []string{"Running", "Pending", "Succeeded", "Failed"} {
			v := 0.0
			if phase == "Running" {
				v = running
			} else if phase == "Succeeded" {
				v = 1 - running
			}
			line(b, "kube_pod_status_phase", []string{"namespace", p.K8sNamespace, "pod", p.Name, "phase", phase}, v, ts)
		}
		for _, res := range []struct {
			name, unit     string
			request, limit float64
		}{{"cpu", "core", 0.25, 1}, {"memory", "byte", 256 << 20, 512 << 20}} {
			for _, m := range []struct {
				metric string
				v      float64
			}{{"kube_pod_container_resource_requests", res.request}, {"kube_pod_container_resource_limits", res.limit}} {
				line(b, m.metric, []string{"namespace", p.K8sNamespace, "pod", p.Name, "container", "main", "node", "node-1", "resource", res.name, "unit", res.unit}, m.v, ts)
			}
		}
	}
}

func (c *Cluster) cadvisor(b *strings.Builder, k int, ts int64) {
	secs := c.o.Step.Seconds()
	for i, p := range c.o.Pods {
		if p.RestartAt > 0 && k == p.RestartAt {
			c.cpu[i], c.net[i], c.fs[i] = 0, 0, 0
		}
		c.cpu[i] += secs * (0.05 + 0.4*c.rng.Float64())
		c.net[i] += secs * (1000 + 9000*c.rng.Float64())
		c.fs[i] += secs * (100 + 900*c.rng.Float64())
		pod := []string{"namespace", p.K8sNamespace, "pod", p.Name}
		main := append(append([]string{}, pod...), "container", "main", "image", "registry.local/app:v1")
		line(b, "container_cpu_usage_seconds_total", main, c.cpu[i], ts)
		// The pod's cgroup, which the module's container!="" leaves out.
		line(b, "container_cpu_usage_seconds_total", append(append([]string{}, pod...), "container", ""), c.cpu[i]*1.1, ts)
		line(b, "container_memory_working_set_bytes", main, float64(100<<20)+float64(50<<20)*c.rng.Float64(), ts)
		line(b, "container_memory_working_set_bytes", append(append([]string{}, pod...), "container", ""), float64(200<<20), ts)
		line(b, "container_network_receive_bytes_total", append(append([]string{}, pod...), "container", "POD", "interface", "eth0"), c.net[i], ts)
		line(b, "container_network_transmit_bytes_total", append(append([]string{}, pod...), "container", "POD", "interface", "eth0"), c.net[i]/2, ts)
		line(b, "container_fs_reads_bytes_total", append(main, "device", "/dev/vda"), c.fs[i], ts)
		line(b, "container_fs_writes_bytes_total", append(main, "device", "/dev/vda"), c.fs[i]*3, ts)
	}
}

func (c *Cluster) hubble(b *strings.Builder, k int, ts int64) {
	for j, call := range c.o.Calls {
		st := &c.calls[j]
		if call.RestartAt > 0 && k == call.RestartAt {
			*st = callState{req: map[string]float64{}, buckets: make([]float64, len(Buckets)+1)}
		}
		n := int(call.PerScrape*(0.5+c.rng.Float64()) + 0.5)
		for r := 0; r < n; r++ {
			status := "200"
			switch x := c.rng.Float64(); {
			case x < call.ErrorShare:
				status = "503"
			case x < call.ErrorShare+call.NotFoundShare:
				status = "404"
			}
			st.req[status]++
			// Log-normal latencies around 40 ms.
			d := math.Exp(math.Log(0.04) + 0.9*c.rng.NormFloat64())
			st.sum += d
			st.count++
			idx := sort.SearchFloat64s(Buckets, d)
			for x := idx; x < len(st.buckets); x++ {
				st.buckets[x]++
			}
		}
		from, to := c.o.Pods[call.From], c.o.Pods[call.To]
		flow := []string{"source_namespace", from.K8sNamespace, "source_pod", from.Name, "destination_namespace", to.K8sNamespace, "destination_pod", to.Name, "method", "GET"}
		for _, reporter := range []string{"server", "client"} {
			ls := append(append([]string{}, flow...), "reporter", reporter)
			statuses := make([]string, 0, len(st.req))
			for s := range st.req {
				statuses = append(statuses, s)
			}
			sort.Strings(statuses)
			for _, s := range statuses {
				line(b, "hubble_http_requests_total", append(append([]string{}, ls...), "protocol", "HTTP/1.1", "status", s), st.req[s], ts)
			}
			for x, le := range Buckets {
				line(b, "hubble_http_request_duration_seconds_bucket", append(append([]string{}, ls...), "le", formatFloat(le)), st.buckets[x], ts)
			}
			line(b, "hubble_http_request_duration_seconds_bucket", append(append([]string{}, ls...), "le", "+Inf"), st.buckets[len(Buckets)], ts)
			line(b, "hubble_http_request_duration_seconds_sum", ls, st.sum, ts)
			line(b, "hubble_http_request_duration_seconds_count", ls, st.count, ts)
		}
	}
}

// UIDs of the example cluster's OpenChoreo resources.
const (
	ProjectUID     = "5b8c1a2e-0f3d-4c6b-9a7e-1d2c3b4a5f60"
	EnvironmentUID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
	APIUID         = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
	WebUID         = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"
	OtherUID       = "c3d4e5f6-a7b8-4c9d-8e1f-2a3b4c5d6e7f"
)

// Example is a small cluster: OpenChoreo namespace "org" with project
// "shop" in environment "development", whose component "api" runs two pods
// (one stops running halfway, one restarts) and "web" one; a pod of another
// OpenChoreo namespace; and a system pod without OpenChoreo labels. api
// calls web and web calls api, with some 404s and 503s; the api->web
// counters restart once.
func Example(start time.Time, step time.Duration, scrapes int) ClusterOptions {
	dp := "dp-org-shop-development-3b7a1c2e"
	pod := func(name, component, uid string) Pod {
		return Pod{K8sNamespace: dp, Name: name, Namespace: "org", Project: "shop", ProjectUID: ProjectUID,
			Component: component, ComponentUID: uid, Environment: "development", EnvironmentUID: EnvironmentUID}
	}
	api0, api1, web0 := pod("api-7d9c8b6f5-x2x7k", "api", APIUID), pod("api-7d9c8b6f5-q8r4t", "api", APIUID), pod("web-5f6d7c8b9-m3n4p", "web", WebUID)
	api0.RestartAt = scrapes / 2
	api1.StopsRunningAt = scrapes * 2 / 3
	other := Pod{K8sNamespace: "dp-org2-x-prod-1a2b3c4d", Name: "other-6c7d8e9f0-z1y2x", Namespace: "org2", Project: "x", ProjectUID: "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
		Component: "other", ComponentUID: OtherUID, Environment: "prod", EnvironmentUID: "e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7081"}
	sys := Pod{K8sNamespace: "kube-system", Name: "coredns-7db6d8ff4d-abcde"}
	return ClusterOptions{
		Pods: []Pod{api0, api1, web0, other, sys},
		Calls: []Call{
			{From: 0, To: 2, PerScrape: 40, ErrorShare: 0.05, NotFoundShare: 0.03, RestartAt: scrapes / 3},
			{From: 1, To: 2, PerScrape: 15, ErrorShare: 0.1},
			{From: 2, To: 0, PerScrape: 25, NotFoundShare: 0.1},
			{From: 3, To: 3, PerScrape: 10},
		},
		Start: start, Step: step, Scrapes: scrapes, HubbleAfter: 5, Seed: 42,
	}
}

// Scaled is a cluster of components pods in OpenChoreo namespace "org",
// project "shop", environment "development", each component with podsEach
// pods and calling the next component, for the benchmark. Component i has
// UID ComponentUID(i).
func Scaled(components, podsEach int, start time.Time, step time.Duration, scrapes int) ClusterOptions {
	o := ClusterOptions{Start: start, Step: step, Scrapes: scrapes, HubbleAfter: 1, Seed: 7}
	for c := 0; c < components; c++ {
		for p := 0; p < podsEach; p++ {
			o.Pods = append(o.Pods, Pod{K8sNamespace: "dp-org-shop-development-3b7a1c2e", Name: fmt.Sprintf("c%d-%d", c, p),
				Namespace: "org", Project: "shop", ProjectUID: ProjectUID, Component: fmt.Sprintf("c%d", c), ComponentUID: ComponentUID(c),
				Environment: "development", EnvironmentUID: EnvironmentUID})
		}
	}
	for c := 0; c < components; c++ {
		for p := 0; p < podsEach; p++ {
			o.Calls = append(o.Calls, Call{From: c*podsEach + p, To: ((c+1)%components)*podsEach + p, PerScrape: 20, ErrorShare: 0.05, NotFoundShare: 0.02})
		}
	}
	return o
}

// ComponentUID is the UID of Scaled's component i.
func ComponentUID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// SeriesPerScrape is how many series one scrape of every path yields.
func (c *Cluster) SeriesPerScrape() int {
	n := 0
	for _, p := range c.o.Pods {
		_ = p
		n += 1 + 4 + 4 + 8 // kube_pod_labels, phases, requests/limits, cAdvisor
	}
	return n + len(c.o.Calls)*2*(3+len(Buckets)+1+2)
}
