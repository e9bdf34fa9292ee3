package openchoreoprocessor

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/loglevel"
)

// The level rules live in package loglevel, shared with the query API, so a
// line gets the same level whichever side derives it.

// severityNumbers maps the canonical level names to OTel severity numbers
// (the first number of each OTel range).
var severityNumbers = map[string]plog.SeverityNumber{
	"TRACE":  plog.SeverityNumberTrace,
	"DEBUG":  plog.SeverityNumberDebug,
	"INFO":   plog.SeverityNumberInfo,
	"WARN":   plog.SeverityNumberWarn,
	"ERROR":  plog.SeverityNumberError,
	"SEVERE": plog.SeverityNumberError, // java.util.logging's error level; the text stays SEVERE as OpenSearch shows it
	"FATAL":  plog.SeverityNumberFatal,
}

// levelAttributeKeys are record attributes that carry a level when Fluent
// Bit merged a JSON line into the record (Merge_Log On) or an SDK set one.
var levelAttributeKeys = []string{"level", "severity", "lvl", "log.level", "levelname", "severity_text"}

// deriveSeverity fills SeverityText and SeverityNumber when the source set
// neither, and the number alone when only the text was set.
func deriveSeverity(lr plog.LogRecord, cfg *Config) {
	if lr.SeverityNumber() != plog.SeverityNumberUnspecified {
		return
	}
	if t := lr.SeverityText(); t != "" {
		if l := loglevel.Normalize(t); l != "" {
			lr.SetSeverityNumber(severityNumbers[l])
		}
		return
	}
	level := ""
	attrs := lr.Attributes()
	for _, k := range levelAttributeKeys {
		if v, ok := attrs.Get(k); ok {
			if l := loglevel.Normalize(v.AsString()); l != "" {
				level = l
				break
			}
		}
	}
	if level == "" && cfg.DeriveSeverity {
		level = loglevel.FromText(lr.Body().AsString())
	}
	if level == "" {
		level = strings.ToUpper(cfg.DefaultSeverity)
	}
	if level == "" {
		return
	}
	lr.SetSeverityText(level)
	lr.SetSeverityNumber(severityNumbers[level])
}
