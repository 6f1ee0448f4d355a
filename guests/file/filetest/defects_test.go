package filetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Timestamps with a named time zone are written in that zone: the guest
// carries the time-zone database (time/tzdata), since WASI gives it none.
func TestNamedTimeZones(t *testing.T) {
	g := guest(t)
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "eastern", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "US/Eastern"}, Nullable: true},
		{Name: "paris", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Europe/Paris"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Unix()))
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := map[string][]string{
		"csv":  {"2026-01-15 07:00:00-05:00", "2026-01-15 13:00:00+01:00"},
		"json": {"2026-01-15"},
	}
	for _, format := range []string{"csv", "json", "parquet"} {
		t.Run(format, func(t *testing.T) {
			root := t.TempDir()
			p := newPool(t, g, root, fmt.Sprintf(`{"path":"{{TABLE}}.{{FORMAT}}","format":%q,"no_rotate":true}`, format))
			if err := write(ctx, p, "zones", rec); err != nil {
				t.Fatalf("write timestamps in US/Eastern and Europe/Paris as %s: %v", format, err)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(root, "zones."+format))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range want[format] {
				if !strings.Contains(string(data), w) {
					t.Errorf("%s output %q does not hold %q", format, data, w)
				}
			}
		})
	}
}
