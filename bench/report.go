package bench

import (
	"fmt"
	"os"
	"strings"
)

// WriteSection replaces the section named name in the markdown file at path
// (between <!-- bench:name --> and <!-- /bench:name -->), appending it when
// absent, so each benchmark rewrites only its own figures.
func WriteSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	begin, end := "<!-- bench:"+name+" -->", "<!-- /bench:"+name+" -->"
	section := begin + "\n" + strings.TrimSpace(body) + "\n" + end
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i >= 0 && j > i {
		s = s[:i] + section + s[j+len(end):]
	} else {
		if s == "" {
			s = "# Benchmarks\n\nFigures from `make bench` (or the command in each section). Each section is rewritten by its benchmark.\n"
		}
		s = strings.TrimRight(s, "\n") + "\n\n" + section + "\n"
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
