package opensearch

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
)

// The template bodies are OpenChoreo's, byte for byte in meaning, taken from
// the setup scripts its modules run against OpenSearch (repository
// openchoreo/community-modules at commit 871003c1ec18):
//
//	container-logs, k8s-events: observability-logs-opensearch/init/setup-opensearch.sh
//	otel-traces:                observability-tracing-opensearch/init/setup-opensearch.sh
//
// They are kept as JSON files so a diff against upstream stays readable. The
// legacy kubernetes-* indices never had a template: Fluent Bit wrote them
// with OpenSearch's dynamic mapping (see docs/OPENSEARCH.md).
//
//go:embed templates/*.json
var templateFS embed.FS

// Template is one composable index template (PUT _index_template/<Name>).
type Template struct {
	Name string
	Body json.RawMessage
}

// TemplateNames are the templates EnsureTemplates installs, under the names
// OpenChoreo's setup jobs use.
var TemplateNames = []string{"container-logs", "k8s-events", "otel-traces"}

// Templates returns the embedded templates in install order.
func Templates() ([]Template, error) {
	out := make([]Template, 0, len(TemplateNames))
	for _, name := range TemplateNames {
		b, err := templateFS.ReadFile("templates/" + name + ".json")
		if err != nil {
			return nil, fmt.Errorf("opensearch: embedded template %s: %w", name, err)
		}
		if !json.Valid(b) {
			return nil, fmt.Errorf("opensearch: embedded template %s is not valid JSON", name)
		}
		out = append(out, Template{Name: name, Body: json.RawMessage(b)})
	}
	return out, nil
}

// EnsureTemplates installs (or overwrites with the same content) OpenChoreo's
// index templates. PUT _index_template is idempotent, so running it on every
// start is safe; indices that already exist keep the mapping they were
// created with.
func (c *Client) EnsureTemplates(ctx context.Context) error {
	ts, err := Templates()
	if err != nil {
		return err
	}
	for _, t := range ts {
		resp, err := c.API.IndexTemplate.Create(ctx, opensearchapi.IndexTemplateCreateReq{
			IndexTemplate: t.Name,
			Body:          bytes.NewReader(t.Body),
		})
		if err != nil {
			return fmt.Errorf("opensearch: put index template %s at %s: %w", t.Name, c.URL, err)
		}
		if !resp.Acknowledged {
			return fmt.Errorf("opensearch: put index template %s at %s: not acknowledged", t.Name, c.URL)
		}
	}
	return nil
}
