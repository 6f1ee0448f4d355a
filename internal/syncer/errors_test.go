package syncer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/arrowio"
	"github.com/wasmdest/wasmdest/internal/config"
	"github.com/wasmdest/wasmdest/internal/syncer"
	"github.com/wasmdest/wasmdest/internal/testenv"
)

// An unknown key deep in the nested spec is reported once, at its own line.
func TestUnknownNestedSpecKeyHasOnePrefixAndItsLine(t *testing.T) {
	toml := fmt.Sprintf(`[[destination]]
name = "files"
registry = "local"
path = %q
write_mode = "append"
[destination.spec]
path = "out/{{TABLE}}/{{UUID}}.{{FORMAT}}"
format = "csv"
[destination.spec.format_spec]
delimitr = ";"
`, testenv.BuildGuest(t, "guests/file"))
	f, err := config.Parse("w.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t)
	d, err := syncer.Open(context.Background(), env, f.Destinations[0])
	if err == nil {
		d.Close()
		t.Fatal("an unknown spec key was accepted")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, `w.toml:10: destination "files": spec.format_spec.delimitr: unknown key`) {
		t.Errorf("error %q does not start with the key's line, the destination and the key", msg)
	}
	if n := strings.Count(msg, "w.toml:"); n != 1 {
		t.Errorf("error %q has %d file:line prefixes, want 1", msg, n)
	}
}

// An empty cq:table_name falls back to the file name, as a missing one
// does (the README promises it); with no file name, the error says that
// the value is empty.
func TestEmptyTableNameFallsBackToTheFileName(t *testing.T) {
	md := arrow.NewMetadata([]string{abi.MetaTableName}, []string{""})
	schema := arrow.NewSchema(usersSchema("x").Fields(), &md)
	rec := users("x", 0, 3)
	defer rec.Release()
	rec2 := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Write(rec2); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rec2.Release()
	path := filepath.Join(t.TempDir(), "accounts.arrows")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := arrowio.Open(path, arrowio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if in.Table().Name != "accounts" {
		t.Errorf("table name %q, want accounts (the file name)", in.Table().Name)
	}
	env := newEnv(t)
	d := misbehave(t, env, nil, nil)
	if _, err := run(t, env, d, in); err != nil {
		t.Fatalf("a table named by its file, with an empty %s: %v", abi.MetaTableName, err)
	}
	if got := ops(t, d); !slices.Contains(got, "write accounts 3") {
		t.Errorf("guest operations %v, want 3 rows written to accounts", got)
	}
	_, err = arrowio.NewReader("-", bytes.NewReader(buf.Bytes()), arrowio.DefaultLimits)
	if err == nil || !strings.Contains(err.Error(), "empty "+abi.MetaTableName) {
		t.Errorf("stdin with an empty %s: got %v, want an error saying it is empty", abi.MetaTableName, err)
	}
}
