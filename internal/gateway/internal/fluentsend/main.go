// Command fluentsend posts Fluent Bit-shaped records with the
// fluent-logger-golang client, waiting for each ack. The gateway's tests run
// it as a separate process because that client and the forward receiver
// both register msgpack extension type 0 (EventTime) at init, which panics
// when both are linked into one binary.
//
//	fluentsend -addr 127.0.0.1:24224 -n 50 -tag kube.x -component api -pod api-0 -prefix "line "
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:24224", "forward receiver address")
	n := flag.Int("n", 1, "records to send")
	tag := flag.String("tag", "kube.var.log.containers.app.log", "fluent tag")
	component := flag.String("component", "api", "openchoreo.dev/component label")
	pod := flag.String("pod", "api-0", "pod name")
	prefix := flag.String("prefix", "line ", "log line prefix; the record index follows")
	flag.Parse()
	if err := run(*addr, *n, *tag, *component, *pod, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "fluentsend:", err)
		os.Exit(1)
	}
}

func run(addr string, n int, tag, component, pod, prefix string) error {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	logger, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: port, RequestAck: true,
		Timeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxRetry: 1})
	if err != nil {
		return err
	}
	defer logger.Close()
	for i := 0; i < n; i++ {
		rec := map[string]any{
			"log":    prefix + strconv.Itoa(i),
			"stream": "stdout",
			"kubernetes": map[string]any{
				"pod_name":       pod,
				"namespace_name": "dp-default-org-default-project-development-3b7a1c2e",
				"host":           "kind-openchoreo-worker",
				"container_name": "main",
				"labels": map[string]any{
					"openchoreo.dev/component":   component,
					"openchoreo.dev/project":     "default-project",
					"openchoreo.dev/environment": "development",
					"openchoreo.dev/namespace":   "default-org",
				},
			},
		}
		if err := logger.PostWithTime(tag, time.Now(), rec); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}
