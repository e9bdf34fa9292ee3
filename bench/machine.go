package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Machine describes where a benchmark ran: cores and the load average when
// it started, because figures taken beside other work are not comparable
// with figures taken on an idle machine.
func Machine() string {
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%d cores, load average %s", runtime.NumCPU(), load)
}
