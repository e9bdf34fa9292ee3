package opensearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// The document decoders (DecodeLogDocument, DecodeSpanDocument,
// DecodeEventDocument) walk a document with gjson instead of decoding it
// into map[string]any: the document is validated once and then read in
// place, field by field, so a value becomes its row text with one copy at
// most. encoding/json's map decoding cost about 50 µs a document and most
// of the backfill's decoding time (docs/BENCHMARKS.md, backfill).
//
// Where this reads a document differently from encoding/json: object keys
// match case-sensitively, and a key given twice in one object is read in
// document order (OpenSearch refuses such documents, so none is stored).

// parseObject validates source and returns it as a JSON object. An invalid
// document, or one that is not an object, is an error from encoding/json's
// reading of it, so the message says what is wrong where.
func parseObject(source []byte) (gjson.Result, error) {
	s := string(source)
	if gjson.Valid(s) {
		if v := gjson.Parse(s); v.IsObject() {
			return v, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(source))
	var doc map[string]json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return gjson.Result{}, err
	}
	if doc == nil {
		return gjson.Result{}, errors.New("null")
	}
	// The object itself was read, so what follows it is not JSON.
	return gjson.Result{}, errTrailingData
}

var errTrailingData = errors.New("trailing data after the JSON object")

// present reports whether v is there and not null.
func present(v gjson.Result) bool { return v.Exists() && v.Type != gjson.Null }

// valueText is a JSON value as attribute text: strings as they are (made
// valid UTF-8), numbers in their JSON spelling, booleans as true/false,
// null as "", objects and arrays as compact JSON with sorted keys.
func valueText(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return sanitize(v.Str)
	case gjson.Number:
		return v.Raw
	case gjson.True:
		return "true"
	case gjson.False:
		return "false"
	case gjson.JSON:
		return compactJSON(v.Raw)
	}
	return ""
}

// compactJSON re-encodes an object or array as encoding/json would encode
// its decoded value (keys sorted, numbers as written), so attribute text
// does not depend on the spacing or key order of the document.
func compactJSON(raw string) string {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// kindOf names a JSON value's kind for error messages.
func kindOf(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return "null"
	case gjson.String:
		return "string"
	case gjson.Number:
		return "number"
	case gjson.True, gjson.False:
		return "boolean"
	}
	if v.IsArray() {
		return "list"
	}
	return "object"
}

// emptyObject reports whether v is {}.
func emptyObject(v gjson.Result) bool {
	empty := true
	v.ForEach(func(_, _ gjson.Result) bool {
		empty = false
		return false
	})
	return empty
}

// sanitize makes s valid UTF-8, each invalid byte becoming U+FFFD, as
// encoding/json decodes invalid bytes in strings.
func sanitize(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// stringField reads a field that must be a string (or null, read as "").
func stringField(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.String:
		return sanitize(v.Str), true
	case gjson.Null:
		return "", true
	}
	return "", false
}

// textMap reads an object of attributes (null or absent: empty) into text
// values.
func textMap(kind error, field string, v gjson.Result) (map[string]string, error) {
	if !present(v) {
		return map[string]string{}, nil
	}
	if !v.IsObject() {
		return nil, fieldTypeErr(kind, field, v, "an object")
	}
	out := make(map[string]string, 8)
	v.ForEach(func(k, val gjson.Result) bool {
		out[sanitize(k.Str)] = valueText(val)
		return true
	})
	return out, nil
}

// fieldTypeErr is the error of a field whose value has the wrong kind.
func fieldTypeErr(kind error, field string, v gjson.Result, want string) error {
	return &DocError{Kind: kind, Reason: ReasonFieldType, Msg: fmt.Sprintf("field %s is a %s, want %s", field, kindOf(v), want)}
}

// fieldReader reads typed fields and keeps the first error.
type fieldReader struct {
	kind error
	err  error
}

// str reads a string field (null: "").
func (r *fieldReader) str(dst *string, name string, v gjson.Result) {
	if r.err != nil {
		return
	}
	s, ok := stringField(v)
	if !ok {
		r.err = fieldTypeErr(r.kind, name, v, "a string")
		return
	}
	*dst = s
}

// object calls f for every field of an object (null or absent: none).
func (r *fieldReader) object(name string, v gjson.Result, f func(key string, v gjson.Result)) {
	if r.err != nil || !present(v) {
		return
	}
	if !v.IsObject() {
		r.err = fieldTypeErr(r.kind, name, v, "an object")
		return
	}
	v.ForEach(func(k, val gjson.Result) bool {
		f(k.Str, val)
		return r.err == nil
	})
}

// list calls f for every element of a list (null or absent: none).
func (r *fieldReader) list(name string, v gjson.Result, f func(v gjson.Result)) {
	if r.err != nil || !present(v) {
		return
	}
	if !v.IsArray() {
		r.err = fieldTypeErr(r.kind, name, v, "a list")
		return
	}
	v.ForEach(func(_, e gjson.Result) bool {
		f(e)
		return r.err == nil
	})
}
