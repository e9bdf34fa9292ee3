package logsadapter

import (
	"context"
	"maps"
	"sort"
	"strconv"

	"github.com/openchoreo/obsplane/internal/store"
)

// OrderedRow is a row that ReadOrdered can order: its timestamp as
// toString(toTimeZone(Timestamp, 'UTC')) renders it (fixed width, so it
// sorts as a string) and its RowKey.
type OrderedRow interface {
	OrderKey() (ts string, key uint64)
}

// ReadOrdered reads the first limit otel_logs rows matching cond in
// (Timestamp, RowKey) order, newest first when desc. cols must select
// `toString(toTimeZone(Timestamp, 'UTC')) AS ts` and `RowKey AS rowKey`
// for R to decode. more reports whether rows past the limit exist.
//
// The engine's top-N by Timestamp alone reads the wide columns only for the
// rows it returns; ordering by RowKey as well hashes every match first (at
// 1M logs 72 ms against 38 ms for a namespace's newest 100; the gap grows
// with the rows in range). So it asks for limit+1 rows by Timestamp, orders
// ties by key here, and only when the row past the cut shares the last
// row's timestamp (a run of equal timestamps the engine may have cut
// anywhere) reads that timestamp's rows in key order to complete the run.
func ReadOrdered[R OrderedRow](ctx context.Context, st store.Store, settings []store.Setting,
	cols, cond string, params store.Params, limit int, desc bool) (rows []R, more bool, err error) {
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	rows, err = store.ScanAll[R](ctx, st, `SELECT `+cols+` FROM otel.otel_logs WHERE `+cond+`
		ORDER BY Timestamp `+dir+` LIMIT `+strconv.Itoa(limit+1), params, settings...)
	if err != nil {
		return nil, false, err
	}
	more = len(rows) > limit
	if more {
		edge, _ := rows[limit-1].OrderKey()
		if next, _ := rows[limit].OrderKey(); next == edge {
			keep := rows[:0]
			for _, r := range rows {
				if ts, _ := r.OrderKey(); ts != edge {
					keep = append(keep, r)
				}
			}
			tp := maps.Clone(params)
			tp["order_edge_ts"] = edge
			ties, err := store.ScanAll[R](ctx, st, `SELECT `+cols+` FROM otel.otel_logs WHERE `+cond+`
				AND Timestamp = {order_edge_ts:DateTime64(9, 'UTC')} ORDER BY rowKey `+dir+` LIMIT `+strconv.Itoa(limit), tp, settings...)
			if err != nil {
				return nil, false, err
			}
			rows = append(keep, ties...)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		ti, ki := rows[i].OrderKey()
		tj, kj := rows[j].OrderKey()
		if ti != tj {
			return (ti > tj) == desc
		}
		return (ki > kj) == desc
	})
	if len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, more, nil
}
