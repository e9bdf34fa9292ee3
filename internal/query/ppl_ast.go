package query

// The PPL abstract syntax tree. ParsePPL builds it; CompilePPL turns it
// into SQL. Every node records the byte offset it starts at, for errors.

// PPLQuery is a parsed PPL query: a source and a pipeline of commands.
type PPLQuery struct {
	// Sources are the index names or patterns after source=.
	Sources  []string
	Commands []Command
}

// Command is one stage of the pipeline.
type Command interface {
	// Pos is the offset of the command's name.
	Pos() int
	// Name is the command as written ("where", "stats", ...).
	Name() string
}

// WhereCmd filters rows: where <cond>.
type WhereCmd struct {
	At   int
	Cond Node
}

// FieldsCmd projects: fields a, b.
type FieldsCmd struct {
	At     int
	Fields []*Ident
}

// SortKey is one key of a sort command.
type SortKey struct {
	Expr Node
	Desc bool
}

// SortCmd orders rows: sort [-]a, [+]b [asc|desc].
type SortCmd struct {
	At   int
	Keys []SortKey
}

// HeadCmd keeps the first N rows: head [N] [from M].
type HeadCmd struct {
	At      int
	N, From int64
}

// Aggregation is one aggregate of a stats command, such as
// percentile(durationInNanos, 95) as p95.
type Aggregation struct {
	At   int
	Func string // lower-cased
	Args []Node
	// Alias is the "as" name, or "".
	Alias string
	// Text is the aggregation as written, the output name without an alias.
	Text string
}

// GroupKey is one "by" key: a field or span(field, interval).
type GroupKey struct {
	Expr  Node
	Alias string
	Text  string
}

// StatsCmd aggregates: stats <aggs> [by <keys>].
type StatsCmd struct {
	At   int
	Aggs []Aggregation
	By   []GroupKey
}

// Assignment is one "name = expr" of eval.
type Assignment struct {
	At   int
	Name string
	Expr Node
}

// EvalCmd computes fields: eval a = <expr>, b = <expr>.
type EvalCmd struct {
	At      int
	Assigns []Assignment
}

func (c *WhereCmd) Pos() int  { return c.At }
func (c *FieldsCmd) Pos() int { return c.At }
func (c *SortCmd) Pos() int   { return c.At }
func (c *HeadCmd) Pos() int   { return c.At }
func (c *StatsCmd) Pos() int  { return c.At }
func (c *EvalCmd) Pos() int   { return c.At }

func (c *WhereCmd) Name() string  { return "where" }
func (c *FieldsCmd) Name() string { return "fields" }
func (c *SortCmd) Name() string   { return "sort" }
func (c *HeadCmd) Name() string   { return "head" }
func (c *StatsCmd) Name() string  { return "stats" }
func (c *EvalCmd) Name() string   { return "eval" }

// Node is an expression.
type Node interface{ Pos() int }

// Ident is a field name.
type Ident struct {
	At   int
	Name string
}

// StringLit is a quoted string, unquoted.
type StringLit struct {
	At  int
	Val string
}

// NumberLit is an integer or decimal literal, as written.
type NumberLit struct {
	At    int
	Text  string
	Float bool
}

// DurationLit is a time span: 5m, 1h, or INTERVAL 5 MINUTE.
type DurationLit struct {
	At   int
	N    int64
	Unit IntervalUnit
	Text string
}

// BoolLit is true or false.
type BoolLit struct {
	At  int
	Val bool
}

// NullLit is null.
type NullLit struct{ At int }

// Binary is "L op R" for arithmetic, comparison and logical operators. Op is
// normalized: = != < <= > >= + - * / % and or xor.
type Binary struct {
	At   int
	Op   string
	L, R Node
}

// Unary is "not X" or "-X".
type Unary struct {
	At int
	Op string // "not" or "-"
	X  Node
}

// LikeExpr is "X [not] like Pattern".
type LikeExpr struct {
	At      int
	X       Node
	Pattern Node
	Not     bool
}

// InExpr is "X [not] in (a, b, ...)".
type InExpr struct {
	At   int
	X    Node
	List []Node
	Not  bool
}

// Call is a function call; Func is lower-cased.
type Call struct {
	At   int
	Func string
	Args []Node
}

func (n *Ident) Pos() int       { return n.At }
func (n *StringLit) Pos() int   { return n.At }
func (n *NumberLit) Pos() int   { return n.At }
func (n *DurationLit) Pos() int { return n.At }
func (n *BoolLit) Pos() int     { return n.At }
func (n *NullLit) Pos() int     { return n.At }
func (n *Binary) Pos() int      { return n.At }
func (n *Unary) Pos() int       { return n.At }
func (n *LikeExpr) Pos() int    { return n.At }
func (n *InExpr) Pos() int      { return n.At }
func (n *Call) Pos() int        { return n.At }
