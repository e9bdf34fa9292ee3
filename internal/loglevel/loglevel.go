// Package loglevel derives a log line's level from its text, with the rules
// of OpenChoreo's OpenSearch logs module (which derives logLevel from the raw
// line at query time): a declared level field (JSON or logfmt) first, then a
// klog/glog header letter, then a bare severity word. The gateway's
// enrichment and the query API both use it, so a line gets the same level
// whichever side derives it and whichever backend answers a dual read.
package loglevel

import (
	"regexp"
	"strings"
)

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

// FromText returns the canonical level the line declares, or "" when
// nothing in it names one.
func FromText(line string) string {
	if len(line) > maxScan {
		line = line[:maxScan]
	}
	if m := declaredLevel.FindStringSubmatch(line); m != nil {
		if l := Normalize(m[1]); l != "" {
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

// Normalize maps a level token to its canonical name; "" when the token
// is not a level name at all. Beyond upstream's aliases it knows log15's
// (eror, dbug) and zerolog console's three-letter forms (inf, wrn, ...).
func Normalize(v string) string {
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
