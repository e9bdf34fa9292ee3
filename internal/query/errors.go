package query

import "fmt"

// SyntaxError is a problem with a user's PPL or search text: a parse error,
// an unknown field, or an unsupported command or function. Pos is the byte
// offset in the input where the problem starts. The HTTP layer answers it
// with 400 and the message.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at position %d: %s", e.Pos, e.Msg) }

func errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
