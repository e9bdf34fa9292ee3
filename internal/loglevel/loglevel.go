// Package loglevel holds obsplane's one set of level rules: which names mean
// which level (Aliases), how an OTel severity number maps to a level
// (SeverityFloors), and how a line's text declares one (FromText, the rules
// of OpenChoreo's OpenSearch logs module, which derives logLevel from the raw
// line at query time: a declared level field (JSON or logfmt) first, then a
// klog/glog header letter, then a bare severity word). The gateway's
// enrichment, both read backends, and the SQL the ClickHouse backend filters
// levels with (generated from the same tables in internal/readmodel/
// clickhouse) all use it, so a line gets the same level whichever side
// derives it and whichever backend answers a dual read.
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

// Alias is a canonical level and the names (upper case) that mean it.
type Alias struct {
	Level string
	Names []string
}

// Aliases are the level names obsplane understands. Beyond upstream's
// aliases they include log15's (eror, dbug) and zerolog console's
// three-letter forms (inf, wrn, ...).
var Aliases = []Alias{
	{"ERROR", []string{"ERROR", "ERR", "EROR"}},
	{"FATAL", []string{"FATAL", "CRITICAL", "CRIT", "PANIC", "DPANIC", "EMERG", "EMERGENCY", "ALERT", "FTL"}},
	{"SEVERE", []string{"SEVERE"}},
	{"WARN", []string{"WARN", "WARNING", "WRN"}},
	{"INFO", []string{"INFO", "INFORMATION", "NOTICE", "CONFIG", "INF"}},
	{"DEBUG", []string{"DEBUG", "TRACE", "VERBOSE", "FINE", "FINER", "FINEST", "SILLY", "DBUG", "DBG", "TRC"}},
}

// SeverityFloor maps OTel severity numbers from Min up to the next floor to
// Level.
type SeverityFloor struct {
	Min   int
	Level string
}

// SeverityFloors are the OTel severity ranges, highest first.
var SeverityFloors = []SeverityFloor{{21, "FATAL"}, {17, "ERROR"}, {13, "WARN"}, {9, "INFO"}, {1, "DEBUG"}}

// Space is what Normalize trims around a level name (ASCII whitespace; the
// SQL twin trims the same bytes).
const Space = " \t\n\r\f\v"

var byName = func() map[string]string {
	m := map[string]string{}
	for _, a := range Aliases {
		for _, n := range a.Names {
			m[n] = a.Level
		}
	}
	return m
}()

// Normalize maps a level name to its canonical level; "" when it is not a
// level name at all. Only ASCII letters are folded, as the engine's upper()
// folds them, so the Go and SQL forms agree on every input.
func Normalize(v string) string {
	return byName[asciiUpper(strings.Trim(v, Space))]
}

// FromSeverity is the level of a record's OTel severity: the number's range
// when it is set, else the text's level (INFO for a text that names none).
// It is "" when the record has no severity at all (then its body decides).
func FromSeverity(number int, text string) string {
	for _, f := range SeverityFloors {
		if number >= f.Min {
			return f.Level
		}
	}
	if strings.Trim(text, Space) == "" {
		return ""
	}
	if l := Normalize(text); l != "" {
		return l
	}
	return "INFO"
}

// Of is the level reported for a stored log record: its severity when it
// has one, else what its body declares, else INFO.
func Of(number int, text, body string) string {
	if l := FromSeverity(number, text); l != "" {
		return l
	}
	if l := FromText(body); l != "" {
		return l
	}
	return "INFO"
}

func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
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
