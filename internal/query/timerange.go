package query

import (
	"fmt"
	"math"
	"time"
)

// The range of ClickHouse's DateTime64(9), the type of every event time:
// a time outside it cannot be bound as a parameter or compared (the engine
// answers DECIMAL_OVERFLOW), so it is refused where it is read.
var (
	MinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Unix(0, math.MaxInt64).UTC() // 2262-04-11 23:47:16.854775807
)

// CheckTime returns an error naming the supported range when t is outside
// it; what names the value ("startTime", "until=") for the message.
func CheckTime(what string, t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return fmt.Errorf("%s %s is outside the times the store can hold (%s to %s)", what,
			t.UTC().Format(time.RFC3339Nano), MinTime.Format("2006-01-02"), MaxTime.Format("2006-01-02T15:04:05Z"))
	}
	return nil
}
