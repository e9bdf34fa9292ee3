package openchoreoprocessor

import (
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
)

// The level rules follow OpenChoreo's OpenSearch logs module (which derives
// logLevel from the raw line at query time), so a line gets the same level
// whichever backend answers a dual read: a declared level field (JSON or
// logfmt) first, then a klog/glog header letter, then a bare severity word,
// and INFO when nothing matched.

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

// declaredLevel finds `level=warn`, `"level":"warn"`, `severity: ERROR` and
// the common aliases (lvl, levelname, severity_text, Serilog's @l).
var declaredLevel = regexp.MustCompile(`(?i)(?:^|[\s,{])"?(?:lvl|level|severity_?text|severity|levelname|@l)"?\s*[=:]\s*"?([a-z]+)`)

// klogHeader matches "E0501 12:34:56.789 ..." — the time part keeps a word
// such as "F1234" in prose from counting.
var klogHeader = regexp.MustCompile(`^([IWEF])\d{4} \d{2}:\d{2}:\d{2}`)

// fallbackWords are tried in this order on the upper-cased line; the first
// one present as a word (and not used as a key, as in error="<nil>") wins.
var fallbackWords = []struct{ word, level string }{
	{"ERROR", "ERROR"},
	{"FATAL", "FATAL"},
	{"SEVERE", "SEVERE"},
	{"WARNING", "WARN"},
	{"WARN", "WARN"},
	{"INFO", "INFO"},
	{"DEBUG", "DEBUG"},
}

// maxScan bounds the bytes looked at per line: a multi-megabyte stack trace
// must not make severity detection the pipeline's bottleneck.
const maxScan = 64 << 10

// levelFromText returns the canonical level the line declares, or "" when
// nothing in it names one.
func levelFromText(line string) string {
	if len(line) > maxScan {
		line = line[:maxScan]
	}
	if m := declaredLevel.FindStringSubmatch(line); m != nil {
		if l := normalizeLevel(m[1]); l != "" {
			return l
		}
		// A declared but unknown level (level=banana) counts as INFO, as
		// upstream does, rather than falling through to the word scan.
		return "INFO"
	}
	if m := klogHeader.FindStringSubmatch(line); m != nil {
		switch m[1] {
		case "I":
			return "INFO"
		case "W":
			return "WARN"
		case "E":
			return "ERROR"
		case "F":
			return "FATAL"
		}
	}
	upper := strings.ToUpper(line)
	for _, w := range fallbackWords {
		if hasSeverityWord(upper, w.word) {
			return w.level
		}
	}
	return ""
}

// normalizeLevel maps a level token to its canonical name; "" when the token
// is not a level name at all. Beyond upstream's aliases it knows log15's
// (eror, dbug) and zerolog console's three-letter forms (inf, wrn, ...).
func normalizeLevel(v string) string {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "ERROR", "ERR", "EROR":
		return "ERROR"
	case "FATAL", "CRITICAL", "CRIT", "PANIC", "DPANIC", "EMERG", "EMERGENCY", "ALERT", "FTL":
		return "FATAL"
	case "SEVERE":
		return "SEVERE"
	case "WARN", "WARNING", "WRN":
		return "WARN"
	case "INFO", "INFORMATION", "NOTICE", "CONFIG", "INF":
		return "INFO"
	case "DEBUG", "TRACE", "VERBOSE", "FINE", "FINER", "FINEST", "SILLY", "DBUG", "DBG", "TRC":
		return "DEBUG"
	}
	return ""
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// hasSeverityWord reports whether word occurs in s as a whole word that is
// not followed (after optional spaces) by '=', i.e. is not a logfmt key.
func hasSeverityWord(s, word string) bool {
	for from := 0; from <= len(s)-len(word); {
		i := strings.Index(s[from:], word)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(word)
		from = i + 1
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		if end < len(s) && isWordByte(s[end]) {
			continue
		}
		j := end
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r' || s[j] == '\f' || s[j] == '\v') {
			j++
		}
		if j < len(s) && s[j] == '=' {
			continue
		}
		return true
	}
	return false
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
		if l := normalizeLevel(t); l != "" {
			lr.SetSeverityNumber(severityNumbers[l])
		}
		return
	}
	level := ""
	attrs := lr.Attributes()
	for _, k := range levelAttributeKeys {
		if v, ok := attrs.Get(k); ok {
			if l := normalizeLevel(v.AsString()); l != "" {
				level = l
				break
			}
		}
	}
	if level == "" && cfg.DeriveSeverity {
		level = levelFromText(lr.Body().AsString())
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
