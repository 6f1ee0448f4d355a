package dest

import (
	"fmt"
	"strings"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/guests/postgres/internal/pgwire"
)

// DeleteRecord deletes the rows req's predicates match, and first the rows
// of its child tables whose _cq_parent_id is the _cq_id of such a row, in
// one transaction (ABI 1.1 delete_record; a CloudQuery delete_record
// message).
func (d *Destination) DeleteRecord(req abi.DeleteRecordRequest) error {
	if err := d.EndHeld(); err != nil {
		return err
	}
	sch, err := d.Schema()
	if err != nil {
		return err
	}
	var args []any
	where, err := whereClause(req, &args)
	if err != nil {
		return fmt.Errorf("table %q: delete record: %w", req.Table, err)
	}
	qt := pgwire.Qualified(sch, req.Table)
	return d.inTx(func(tx int64) error {
		for _, rel := range req.Relations {
			if rel.Parent != "" && rel.Parent != req.Table {
				return fmt.Errorf("table %q: delete record: relation %q names parent %q, not this table", req.Table, rel.Table, rel.Parent)
			}
			sql := fmt.Sprintf("DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s)",
				pgwire.Qualified(sch, rel.Table), pgwire.Ident(abi.ColParentID), pgwire.Ident(abi.ColID), qt, where)
			if _, err := d.db.Exec(tx, sql, args...); err != nil {
				return fmt.Errorf("table %q: delete record: child table %q: %w", req.Table, rel.Table, err)
			}
		}
		if _, err := d.db.Exec(tx, fmt.Sprintf("DELETE FROM %s WHERE %s", qt, where), args...); err != nil {
			return fmt.Errorf("table %q: delete record: %w", req.Table, err)
		}
		return nil
	})
}

// whereClause renders req.Where as SQL with $n parameters appended to args.
// The groups are ORed; no group matches nothing.
func whereClause(req abi.DeleteRecordRequest, args *[]any) (string, error) {
	var groups []string
	for gi, g := range req.Where {
		join := " AND "
		switch g.Grouping {
		case abi.GroupingAnd, "":
		case abi.GroupingOr:
			join = " OR "
		default:
			return "", fmt.Errorf("where group %d: grouping %q is not %q or %q", gi, g.Grouping, abi.GroupingAnd, abi.GroupingOr)
		}
		var preds []string
		for pi, p := range g.Predicates {
			if p.Operator != abi.OperatorEq && p.Operator != "" {
				return "", fmt.Errorf("where group %d, predicate %d: operator %q is not %q", gi, pi, p.Operator, abi.OperatorEq)
			}
			if p.Column == "" {
				return "", fmt.Errorf("where group %d, predicate %d: no column", gi, pi)
			}
			col := pgwire.Ident(p.Column)
			var alts []string
			for _, v := range p.Values {
				if v == nil {
					alts = append(alts, col+" IS NULL")
					continue
				}
				*args = append(*args, *v)
				alts = append(alts, fmt.Sprintf("%s = $%d", col, len(*args)))
			}
			if len(alts) == 0 {
				alts = []string{"FALSE"}
			}
			preds = append(preds, "("+strings.Join(alts, " OR ")+")")
		}
		if len(preds) == 0 {
			continue
		}
		groups = append(groups, "("+strings.Join(preds, join)+")")
	}
	if len(groups) == 0 {
		return "FALSE", nil
	}
	return strings.Join(groups, " OR "), nil
}
