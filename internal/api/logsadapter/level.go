package logsadapter

import (
	"strings"

	"github.com/openchoreo/obsplane/internal/loglevel"
)

// Level derivation. OpenChoreo's OpenSearch module reports a level for every
// line, taken from the text: a declared level field (logfmt level=..., JSON
// "severity":"..."), else a klog-style one-letter header ("E0501 12:34:56"),
// else the first severity word found (ERROR, FATAL, SEVERE, WARN(ING), INFO,
// DEBUG, in that order of precedence, a word followed by "=" being a field
// key rather than a level), else INFO. Rows written by OTel SDKs carry
// SeverityNumber/SeverityText, which win over the text when present.

// normalizeLevel maps a row's SeverityText to the canonical level; it is
// the Go twin of LevelSQL below, which filters by the same mapping.
func normalizeLevel(v string) string {
	switch strings.ToUpper(v) {
	case "ERROR", "ERR":
		return "ERROR"
	case "FATAL", "CRITICAL", "CRIT", "PANIC", "DPANIC", "EMERG", "EMERGENCY", "ALERT":
		return "FATAL"
	case "SEVERE":
		return "SEVERE"
	case "WARN", "WARNING":
		return "WARN"
	case "DEBUG", "TRACE", "VERBOSE", "FINE", "FINER", "FINEST", "SILLY":
		return "DEBUG"
	}
	return "INFO"
}

// levelFromText derives the level of a raw log line: loglevel's rules (the
// ones the gateway uses too), INFO when the line names none.
func levelFromText(line string) string {
	if l := loglevel.FromText(line); l != "" {
		return l
	}
	return "INFO"
}

// severityLevel maps the OTel severity of a row to a level, "" when the row
// has none (then the text decides).
func severityLevel(num int, text string) string {
	switch {
	case num >= 21:
		return "FATAL"
	case num >= 17:
		return "ERROR"
	case num >= 13:
		return "WARN"
	case num >= 9:
		return "INFO"
	case num >= 1:
		return "DEBUG"
	}
	if strings.TrimSpace(text) == "" {
		return ""
	}
	return normalizeLevel(text)
}

// DeriveLevel is the level reported for a row.
func DeriveLevel(severityNumber int, severityText, body string) string {
	if l := severityLevel(severityNumber, severityText); l != "" {
		return l
	}
	return levelFromText(body)
}

// LevelSQL is the SQL twin of severityLevel over otel_logs, used to filter
// by level in the engine; ” means the row has no OTel severity and is
// matched on its text instead, as the OpenSearch module does.
const LevelSQL = `multiIf(SeverityNumber >= 21, 'FATAL', SeverityNumber >= 17, 'ERROR', SeverityNumber >= 13, 'WARN', SeverityNumber >= 9, 'INFO', SeverityNumber >= 1, 'DEBUG', ` +
	`trim(SeverityText) = '', '', ` +
	`upper(SeverityText) IN ('ERROR', 'ERR'), 'ERROR', ` +
	`upper(SeverityText) IN ('FATAL', 'CRITICAL', 'CRIT', 'PANIC', 'DPANIC', 'EMERG', 'EMERGENCY', 'ALERT'), 'FATAL', ` +
	`upper(SeverityText) = 'SEVERE', 'SEVERE', ` +
	`upper(SeverityText) IN ('WARN', 'WARNING'), 'WARN', ` +
	`upper(SeverityText) IN ('DEBUG', 'TRACE', 'VERBOSE', 'FINE', 'FINER', 'FINEST', 'SILLY'), 'DEBUG', 'INFO')`
