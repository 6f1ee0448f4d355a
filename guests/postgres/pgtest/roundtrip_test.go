//go:build !wasip1

package pgtest

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
)

// TestRoundTripAllTypes writes every type through the guest and reads it
// back: same Arrow types, same values, under both type mappings.
func TestRoundTripAllTypes(t *testing.T) {
	for _, c := range []struct {
		mode abi.WriteMode
		spec string
	}{
		{abi.WriteModeAppend, `{}`}, {abi.WriteModeOverwrite, `{}`},
		{abi.WriteModeAppend, `{"type_mapping": "rich"}`}, {abi.WriteModeOverwrite, `{"type_mapping": "rich"}`},
	} {
		mode := c.mode
		t.Run(string(mode)+c.spec, func(t *testing.T) {
			e := newEnv(t, envConfig{opts: optsFor(mode), spec: c.spec})
			src := tableSchema("all_types", true, allTypes()...)
			recs := []arrow.RecordBatch{
				withInternal(t, makeRecord(t, src, 0, 30, false), e.opts),
				withInternal(t, makeRecord(t, src, 30, 3, true), e.opts),
			}
			wanted := recs[0].Schema()
			e.mustMigrate(wanted, abi.MigrateModeSafe)
			e.mustWrite(recs...)
			if c.spec == `{}` {
				// JSON inside a struct's CloudQuery text is compacted.
				sameValues(t, recs, e.read(wanted))
				return
			}
			if d := sameRows(t, recs, e.read(wanted)); d != "" {
				t.Fatal(d)
			}
		})
	}
}
