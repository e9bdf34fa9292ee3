package chhttp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Native at a client protocol revision.
//
// The engine writes Native in its file form (revision 0). A client that
// names a protocol revision (clickhouse-go over HTTP sends
// client_protocol_version) reads blocks framed for that revision: a block
// info header before each block (revision > 0) and a custom-serialization
// byte after each column's type (revision >= 54454). The column data itself
// is the same for every type but Dynamic, JSON, Object, Variant and
// AggregateFunction, so the reframer copies the engine's bytes and only
// inserts the framing; it walks each column's data to find its end, never
// decoding values. A column of those other types is refused with
// NOT_IMPLEMENTED (re-encoding them with clickhouse-go's codec crashed the
// process on the engine's revision-0 Dynamic data).

const (
	revisionBlockInfo           = 1
	revisionCustomSerialization = 54454
)

var errShort = errors.New("native: block continues in the next chunk")

// reframer turns a revision-0 Native stream into one at revision rev, chunk
// by chunk, handing what it completes to emit; partial blocks wait for the
// rest.
type reframer struct {
	rev     uint64
	emit    func([]byte) error
	pending []byte
	types   map[string]*chType
}

func newReframer(rev uint64, emit func([]byte) error) *reframer {
	return &reframer{rev: rev, emit: emit, types: map[string]*chType{}}
}

// write consumes one chunk of the engine's output.
func (r *reframer) write(chunk []byte) error {
	var in []byte
	if len(r.pending) > 0 {
		in = append(r.pending, chunk...)
	} else {
		in = chunk
	}
	out := make([]byte, 0, len(in)+64)
	for len(in) > 0 {
		n, framed, err := r.block(in, out)
		if errors.Is(err, errShort) {
			break
		}
		if err != nil {
			return err
		}
		out = framed
		in = in[n:]
	}
	r.pending = append(r.pending[:0:0], in...)
	if len(out) > 0 {
		return r.emit(out)
	}
	return nil
}

// finish ends the stream: it reports one that stopped inside a block.
func (r *reframer) finish() error {
	if len(r.pending) > 0 {
		return fmt.Errorf("native: output ended inside a block (%d bytes left)", len(r.pending))
	}
	return nil
}

// block reframes the block at the start of in, appending to out; it returns
// how many bytes of in it used.
func (r *reframer) block(in, out []byte) (int, []byte, error) {
	rd := &nreader{b: in}
	ncols := rd.uvarint()
	nrows := rd.uvarint()
	if rd.err != nil {
		return 0, out, rd.err
	}
	if ncols > 1<<16 || nrows > 1<<40 {
		return 0, out, fmt.Errorf("native: implausible block of %d columns, %d rows", ncols, nrows)
	}
	start := len(out)
	if r.rev >= revisionBlockInfo {
		// field 1 is_overflows = false, field 2 bucket_num = -1, end.
		out = append(out, 1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0)
	}
	out = binary.AppendUvarint(out, ncols)
	out = binary.AppendUvarint(out, nrows)
	for c := uint64(0); c < ncols; c++ {
		nameAt := rd.pos
		name := rd.str()
		typ := rd.str()
		if rd.err != nil {
			return 0, out[:start], rd.err
		}
		t, err := r.parse(typ)
		if err == nil && !t.walkable() {
			err = exception(codeNotImplemented, "Column %s of type %s cannot be sent in Native at client_protocol_version=%d: its serialization depends on the protocol revision; cast it (toString, say) or ask for another format", strconvQuote(name), typ, r.rev)
		}
		if err != nil {
			return 0, out[:start], err
		}
		out = append(out, in[nameAt:rd.pos]...)
		if r.rev >= revisionCustomSerialization {
			out = append(out, 0)
		}
		dataAt := rd.pos
		if nrows > 0 {
			t.prefix(rd)
			t.data(rd, nrows)
		}
		if rd.err != nil {
			return 0, out[:start], rd.err
		}
		out = append(out, in[dataAt:rd.pos]...)
	}
	return rd.pos, out, nil
}

func (r *reframer) parse(typ string) (*chType, error) {
	if t, ok := r.types[typ]; ok {
		return t, nil
	}
	t, err := parseType(typ)
	if err != nil {
		return nil, err
	}
	if len(r.types) < 4096 {
		r.types[typ] = t
	}
	return t, nil
}

// nreader walks Native bytes; a read past the end sets err to errShort.
type nreader struct {
	b   []byte
	pos int
	err error
}

func (r *nreader) need(n uint64) bool {
	if r.err != nil {
		return false
	}
	if uint64(len(r.b)-r.pos) < n {
		r.err = errShort
		return false
	}
	return true
}

func (r *nreader) skip(n uint64) {
	if r.need(n) {
		r.pos += int(n)
	}
}

func (r *nreader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.pos:])
	if n == 0 {
		r.err = errShort
		return 0
	}
	if n < 0 {
		r.err = errors.New("native: bad varint")
		return 0
	}
	r.pos += n
	return v
}

func (r *nreader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.pos:])
	r.pos += 8
	return v
}

func (r *nreader) str() string {
	n := r.uvarint()
	if n > 1<<20 {
		r.err = fmt.Errorf("native: name or type of %d bytes", n)
		return ""
	}
	if !r.need(n) {
		return ""
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s
}

// chType is a parsed ClickHouse type, as much as walking its data needs.
type chType struct {
	kind  string // "fixed", "String", "Array", "Nullable", "Tuple", "LowCardinality", or "other"
	size  uint64 // fixed width
	elems []*chType
}

func (t *chType) walkable() bool {
	if t.kind == "other" {
		return false
	}
	for _, e := range t.elems {
		if !e.walkable() {
			return false
		}
	}
	return true
}

// prefix passes the serialization state prefix of t (LowCardinality's
// key version), written for the whole type tree before the data.
func (t *chType) prefix(r *nreader) {
	switch t.kind {
	case "LowCardinality":
		r.skip(8)
	case "Array", "Nullable", "Tuple":
		for _, e := range t.elems {
			e.prefix(r)
		}
	}
}

// data passes n values of t.
func (t *chType) data(r *nreader, n uint64) {
	if r.err != nil || n == 0 {
		return
	}
	switch t.kind {
	case "fixed":
		if n > 1<<40 {
			r.err = errors.New("native: column too large")
			return
		}
		r.skip(n * t.size)
	case "String":
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.skip(r.uvarint())
		}
	case "Nullable":
		r.skip(n)
		t.elems[0].data(r, n)
	case "Array":
		if !r.need(8 * n) {
			return
		}
		total := binary.LittleEndian.Uint64(r.b[r.pos+int(8*(n-1)):])
		r.pos += int(8 * n)
		t.elems[0].data(r, total)
	case "Tuple":
		for _, e := range t.elems {
			e.data(r, n)
		}
	case "LowCardinality":
		flags := r.u64()
		if flags&(1<<8) != 0 { // a global dictionary: never in Native output
			r.err = errors.New("native: LowCardinality with a global dictionary")
			return
		}
		if flags&(1<<9) != 0 { // additional keys
			keys := r.u64()
			t.elems[0].data(r, keys)
		}
		rows := r.u64()
		width := uint64(1) << (flags & 0xff)
		if width > 8 {
			r.err = errors.New("native: bad LowCardinality index type")
			return
		}
		r.skip(rows * width)
	}
}

var fixedSizes = map[string]uint64{
	"UInt8": 1, "Int8": 1, "Bool": 1, "Enum8": 1, "Nothing": 1,
	"UInt16": 2, "Int16": 2, "Date": 2, "Enum16": 2, "BFloat16": 2,
	"UInt32": 4, "Int32": 4, "Float32": 4, "DateTime": 4, "Date32": 4, "IPv4": 4, "Decimal32": 4, "Time": 4,
	"UInt64": 8, "Int64": 8, "Float64": 8, "DateTime64": 8, "Decimal64": 8, "Time64": 8,
	"IntervalNanosecond": 8, "IntervalMicrosecond": 8, "IntervalMillisecond": 8, "IntervalSecond": 8,
	"IntervalMinute": 8, "IntervalHour": 8, "IntervalDay": 8, "IntervalWeek": 8, "IntervalMonth": 8,
	"IntervalQuarter": 8, "IntervalYear": 8,
	"UInt128": 16, "Int128": 16, "UUID": 16, "IPv6": 16, "Decimal128": 16,
	"UInt256": 32, "Int256": 32, "Decimal256": 32,
}

// parseType parses a type name as the engine writes it in Native headers.
func parseType(s string) (*chType, error) {
	p := &typeParser{s: s}
	t, err := p.typ()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("type %q: trailing text", s)
	}
	return t, nil
}

type typeParser struct {
	s   string
	pos int
	dep int
}

func (p *typeParser) space() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

func (p *typeParser) ident() string {
	p.space()
	start := p.pos
	if p.pos < len(p.s) && (p.s[p.pos] == '`' || p.s[p.pos] == '"') {
		q := p.s[p.pos]
		p.pos++
		for p.pos < len(p.s) && p.s[p.pos] != q {
			if p.s[p.pos] == '\\' {
				p.pos++
			}
			p.pos++
		}
		p.pos++
		if p.pos > len(p.s) {
			p.pos = len(p.s)
		}
		return p.s[start:p.pos]
	}
	for p.pos < len(p.s) && isWordByte(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// args returns the raw text of each top-level argument in parentheses.
func (p *typeParser) args() ([]string, error) {
	if p.pos >= len(p.s) || p.s[p.pos] != '(' {
		return nil, nil
	}
	var out []string
	depth, start, inStr := 0, p.pos+1, byte(0)
	for i := p.pos; i < len(p.s); i++ {
		c := p.s[i]
		if inStr != 0 {
			if c == '\\' {
				i++
			} else if c == inStr {
				inStr = 0
			}
			continue
		}
		switch c {
		case '\'', '`', '"':
			inStr = c
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				out = append(out, strings.TrimSpace(p.s[start:i]))
				p.pos = i + 1
				return out, nil
			}
		case ',':
			if depth == 1 {
				out = append(out, strings.TrimSpace(p.s[start:i]))
				start = i + 1
			}
		}
	}
	return nil, fmt.Errorf("type %q: unbalanced parentheses", p.s)
}

func (p *typeParser) typ() (*chType, error) {
	p.dep++
	defer func() { p.dep-- }()
	if p.dep > 64 {
		return nil, fmt.Errorf("type %q: nested too deep", p.s)
	}
	name := p.ident()
	if name == "" {
		return nil, fmt.Errorf("type %q: no type name at %d", p.s, p.pos)
	}
	args, err := p.args()
	if err != nil {
		return nil, err
	}
	sub := func(a string) (*chType, error) {
		q := &typeParser{s: a, dep: p.dep}
		t, err := q.typ()
		if err != nil {
			return nil, err
		}
		q.space()
		if q.pos != len(q.s) {
			return nil, fmt.Errorf("type %q: trailing text", a)
		}
		return t, nil
	}
	if size, ok := fixedSizes[name]; ok {
		return &chType{kind: "fixed", size: size}, nil
	}
	switch name {
	case "String", "JSONString":
		return &chType{kind: "String"}, nil
	case "FixedString":
		if len(args) != 1 {
			return nil, fmt.Errorf("type %q: FixedString needs a size", p.s)
		}
		n, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("type %q: %w", p.s, err)
		}
		return &chType{kind: "fixed", size: n}, nil
	case "Decimal":
		if len(args) < 1 {
			return nil, fmt.Errorf("type %q: Decimal needs a precision", p.s)
		}
		prec, err := strconv.Atoi(args[0])
		if err != nil {
			return nil, fmt.Errorf("type %q: %w", p.s, err)
		}
		switch {
		case prec <= 9:
			return &chType{kind: "fixed", size: 4}, nil
		case prec <= 18:
			return &chType{kind: "fixed", size: 8}, nil
		case prec <= 38:
			return &chType{kind: "fixed", size: 16}, nil
		default:
			return &chType{kind: "fixed", size: 32}, nil
		}
	case "Nullable", "Array", "LowCardinality":
		if len(args) != 1 {
			return nil, fmt.Errorf("type %q: %s takes one type", p.s, name)
		}
		e, err := sub(args[0])
		if err != nil {
			return nil, err
		}
		return &chType{kind: name, elems: []*chType{e}}, nil
	case "SimpleAggregateFunction":
		if len(args) != 2 {
			return nil, fmt.Errorf("type %q: SimpleAggregateFunction takes a function and a type", p.s)
		}
		return sub(args[1])
	case "Map":
		if len(args) != 2 {
			return nil, fmt.Errorf("type %q: Map takes two types", p.s)
		}
		k, err := sub(args[0])
		if err != nil {
			return nil, err
		}
		v, err := sub(args[1])
		if err != nil {
			return nil, err
		}
		return &chType{kind: "Array", elems: []*chType{{kind: "Tuple", elems: []*chType{k, v}}}}, nil
	case "Tuple", "Nested":
		t := &chType{kind: "Tuple"}
		for _, a := range args {
			e, err := sub(a)
			if err != nil {
				// A named element: "name Type".
				q := &typeParser{s: a, dep: p.dep}
				q.ident()
				q.space()
				if e, err = sub(a[q.pos:]); err != nil {
					return nil, err
				}
			}
			t.elems = append(t.elems, e)
		}
		if name == "Nested" {
			return &chType{kind: "Array", elems: []*chType{t}}, nil
		}
		return t, nil
	case "Point":
		return &chType{kind: "Tuple", elems: []*chType{{kind: "fixed", size: 8}, {kind: "fixed", size: 8}}}, nil
	case "Ring", "LineString":
		return parseType("Array(Point)")
	case "Polygon", "MultiLineString":
		return parseType("Array(Array(Point))")
	case "MultiPolygon":
		return parseType("Array(Array(Array(Point)))")
	}
	// Dynamic, JSON, Object, Variant, AggregateFunction and what the
	// future brings: decoded and encoded again instead.
	return &chType{kind: "other"}, nil
}

func strconvQuote(s string) string { return strconv.Quote(s) }
