package openchoreoprocessor

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config configures the openchoreo processor. The zero value is not the
// default; use createDefaultConfig (what the collector does).
type Config struct {
	// DefaultSeverity is the level given to a log line whose source set no
	// severity and whose text names none. OpenChoreo's OpenSearch module
	// reports such lines as INFO, so the default keeps level filters
	// answering the same on both backends during dual read. Empty leaves the
	// severity unset (SeverityNumber 0).
	DefaultSeverity string `mapstructure:"default_severity"`

	// KeepKubernetesRecord keeps Fluent Bit's `kubernetes` map (and any
	// flattened `kubernetes.*` keys) in the log attributes after they were
	// copied to resource attributes. Off by default: every field is already
	// in ResourceAttributes, and carrying it twice per row doubles the
	// attribute bytes of every container log line.
	KeepKubernetesRecord bool `mapstructure:"keep_kubernetes_record"`

	// ServiceNameFromComponent sets service.name from the OpenChoreo
	// component when the source did not set one, so ServiceName (the sort
	// key's second column) carries the component for container logs.
	ServiceNameFromComponent bool `mapstructure:"service_name_from_component"`

	// DeriveSeverity turns level detection from the log text on or off.
	DeriveSeverity bool `mapstructure:"derive_severity"`

	// LabelSources are where the OpenChoreo tenant labels (the openchoreo.*
	// resource attributes the tenant columns read) may come from:
	//
	//   - "resource": openchoreo.* and openchoreo.dev/<label> resource
	//     attributes the sender set itself;
	//   - "kubernetes_record": the `kubernetes` map Fluent Bit's kubernetes
	//     filter adds to a log record (its pod labels);
	//   - "pod_labels": k8s.pod.label.<label> / k8s.pod.labels.<label>
	//     resource attributes, as the collector's k8sattributes processor
	//     writes them.
	//
	// The default is all three. Without "resource", labels the sender set
	// are removed and the labels derived from the listed sources replace
	// them, so an application cannot put its data in another namespace;
	// docs/SECURITY.md says which deployment makes the other sources
	// trustworthy.
	LabelSources []string `mapstructure:"label_sources"`

	// PodLabelsTTL is how long a pod's kube_pod_labels series is remembered
	// after it was last seen (kube-state-metrics reports every pod at every
	// scrape, so a live pod is seen every scrape interval).
	PodLabelsTTL time.Duration `mapstructure:"pod_labels_ttl"`
	// MaxPods bounds the remembered pods.
	MaxPods int `mapstructure:"max_pods"`
	// PodLabelsWarmup is how far back the stored kube_pod_labels series are
	// read when the processor starts (0 skips it).
	PodLabelsWarmup time.Duration `mapstructure:"pod_labels_warmup"`
}

// Label sources (Config.LabelSources).
const (
	SourceResource         = "resource"
	SourceKubernetesRecord = "kubernetes_record"
	SourcePodLabels        = "pod_labels"
)

func (c *Config) trusts(source string) bool {
	for _, s := range c.LabelSources {
		if s == source {
			return true
		}
	}
	return false
}

func createDefaultConfigStruct() *Config {
	return &Config{
		DefaultSeverity:          "INFO",
		ServiceNameFromComponent: true,
		DeriveSeverity:           true,
		LabelSources:             []string{SourceResource, SourceKubernetesRecord, SourcePodLabels},
		PodLabelsTTL:             time.Hour,
		MaxPods:                  200000,
		PodLabelsWarmup:          time.Hour,
	}
}

// Validate reports a default_severity that is not a level name, a label
// source that is not one of the three, and pod label limits that cannot
// work.
func (c *Config) Validate() error {
	var errs []error
	for _, src := range c.LabelSources {
		switch src {
		case SourceResource, SourceKubernetesRecord, SourcePodLabels:
		default:
			errs = append(errs, fmt.Errorf("label_sources: %q is not one of %s, %s, %s", src, SourceResource, SourceKubernetesRecord, SourcePodLabels))
		}
	}
	if c.DefaultSeverity != "" {
		if _, ok := severityNumbers[strings.ToUpper(c.DefaultSeverity)]; !ok {
			errs = append(errs, fmt.Errorf("default_severity %q is not one of TRACE, DEBUG, INFO, WARN, ERROR, SEVERE, FATAL (or empty)", c.DefaultSeverity))
		}
	}
	if c.PodLabelsTTL <= 0 {
		errs = append(errs, errors.New("pod_labels_ttl must be positive"))
	}
	if c.MaxPods <= 0 {
		errs = append(errs, errors.New("max_pods must be positive"))
	}
	if c.PodLabelsWarmup < 0 {
		errs = append(errs, errors.New("pod_labels_warmup must not be negative"))
	}
	return errors.Join(errs...)
}
