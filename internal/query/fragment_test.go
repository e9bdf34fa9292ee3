package query

import (
	"strings"
	"testing"

	"github.com/openchoreo/obsplane/internal/store"
)

func TestFragmentPrefixesEveryParameter(t *testing.T) {
	var terms []Expr
	for i := 0; i < 12; i++ {
		terms = append(terms, Eq(Col("ServiceName"), String(string(rune('a'+i)))))
	}
	params := store.Params{}
	sql := Fragment(Or(terms...), "q_p", params)
	if len(params) != 12 {
		t.Fatalf("bound %d params: %v", len(params), params)
	}
	for i := 0; i < 12; i++ {
		name := "q_p" + string(rune('0'+i%10))
		if i >= 10 {
			name = "q_p1" + string(rune('0'+i-10))
		}
		if params[name] != string(rune('a'+i)) {
			t.Errorf("%s = %q, want %q (sql %s)", name, params[name], string(rune('a'+i)), sql)
		}
	}
	if want := "ServiceName = {q_p11:String}"; !strings.Contains(sql, want) {
		t.Fatalf("sql %s lacks %s", sql, want)
	}
}
