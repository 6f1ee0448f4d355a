package pgwire

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/internal/pgbinary"
)

func TestUpsertStatement(t *testing.T) {
	ty, _ := pgbinary.TypeOf(arrow.Field{Name: "x", Type: arrow.BinaryTypes.String})
	cols := []Column{{Name: "id", Stored: "id", Type: ty, PK: true}, {Name: "v", Stored: "v", Type: ty}}
	plain := Upsert(`"public"."t"`, "stage", "ord", cols, false)
	want := "INSERT INTO \"public\".\"t\" (\"id\", \"v\")\nSELECT \"id\", \"v\" FROM pg_temp.\"stage\"\nON CONFLICT (\"id\") DO UPDATE SET \"v\" = excluded.\"v\""
	if plain != want {
		t.Errorf("without dedupe:\n%s\nwant\n%s", plain, want)
	}
	dedupe := Upsert(`"public"."t"`, "stage", "ord", cols, true)
	if !strings.Contains(dedupe, `SELECT DISTINCT ON ("id") "id", "v" FROM pg_temp."stage" ORDER BY "id", "ord" DESC`) {
		t.Errorf("with dedupe: %s", dedupe)
	}
	for _, s := range []string{plain, dedupe} {
		if strings.Contains(s, "SAVEPOINT") || strings.Count(s, "INSERT") != 1 {
			t.Errorf("not one INSERT ... ON CONFLICT: %s", s)
		}
	}
	keyOnly := Upsert(`"t"`, "stage", "ord", cols[:1], false)
	if !strings.HasSuffix(keyOnly, `ON CONFLICT ("id") DO NOTHING`) {
		t.Errorf("key only: %s", keyOnly)
	}
}
