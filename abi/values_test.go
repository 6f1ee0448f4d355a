package abi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wasmdest/wasmdest/abi"
)

func TestValid(t *testing.T) {
	for _, m := range abi.WriteModes() {
		if err := m.Valid(); err != nil {
			t.Error(err)
		}
	}
	if abi.WriteModes()[0] != abi.DefaultWriteMode || abi.MigrateModes()[0] != abi.DefaultMigrateMode || abi.PKModes()[0] != abi.DefaultPKMode {
		t.Error("the default is not listed first")
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{abi.WriteMode("upsert").Valid(), `write_mode "upsert" is not one of overwrite-delete-stale, overwrite, append`},
		{abi.WriteMode("").Valid(), `write_mode "" is not one of`},
		{abi.MigrateMode("yolo").Valid(), `migrate_mode "yolo" is not one of safe, forced`},
		{abi.PKMode("").Valid(), `pk_mode "" is not one of default, cq-id-only`},
		{abi.Capability("network").Valid(), `capability "network" is not one of filesystem, postgres`},
		{abi.Feature("upsert").Valid(), `feature "upsert" is not one of read, delete_stale, migrate_forced`},
		{abi.MigrateAction("drop").Valid(), `migrate action "drop" is not one of create, alter, recreate`},
		{abi.ChangeKind("rename").Valid(), `change kind "rename" is not one of add_column,`},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want %q", tc.err, tc.want)
		}
	}
	for _, v := range []interface{ Valid() error }{abi.MigrateModeForced, abi.PKModeCQIDOnly, abi.CapPostgres, abi.FeatureRead, abi.MigrateRecreate, abi.ChangePrimaryKey} {
		if err := v.Valid(); err != nil {
			t.Error(err)
		}
	}
}

func TestChangeKindSafe(t *testing.T) {
	var safe []abi.ChangeKind
	for _, k := range abi.ChangeKinds() {
		if k.Safe() {
			safe = append(safe, k)
		}
	}
	if got := abi.List(safe); got != "add_column, remove_column, remove_unique_constraint, move_pk_to_cq_id" {
		t.Errorf("safe kinds: %s", got)
	}
}

func TestBatchLimitsJSON(t *testing.T) {
	b, err := json.Marshal(abi.BatchLimits{Rows: 10, Bytes: 20, Timeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"batch_size":10,"batch_size_bytes":20,"batch_timeout":"1m30s"}` {
		t.Errorf("got %s", b)
	}
	var got abi.BatchLimits
	for in, want := range map[string]abi.BatchLimits{
		`{"batch_size":10,"batch_size_bytes":20,"batch_timeout":"60s"}`: {Rows: 10, Bytes: 20, Timeout: time.Minute},
		`{"batch_timeout":""}`: {},
		`{}`:                   {},
	} {
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{`{"batch_timeout":"soon"}`, `{"batch_timeout":60}`} {
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestValidSemver(t *testing.T) {
	for _, v := range []string{"v1.2.3", "1.2.3", "0.4.0-rc.1", "v1.0.0+build.5", "v1.0.0-alpha-1.0a"} {
		if !abi.ValidSemver(v) {
			t.Errorf("%q refused", v)
		}
	}
	for _, v := range []string{"", "v1", "v1.2", "1.02.3", "v1.2.3-", "v1.2.3-01", "v1.2.3+", "v1.2.3-a..b", "vv1.2.3", "1.2.3.4", "v1.2.x"} {
		if abi.ValidSemver(v) {
			t.Errorf("%q accepted", v)
		}
	}
	if !abi.SameSemver("v1.2.3", "1.2.3") || abi.SameSemver("v1.2.3", "v1.2.4") {
		t.Error("SameSemver")
	}
}

func TestFormatTime(t *testing.T) {
	at := time.Date(2026, 11, 21, 7, 25, 49, 123456789, time.FixedZone("CET", 3600))
	s := abi.FormatTime(at)
	if s != "2026-11-21T06:25:49.123456Z" {
		t.Errorf("got %s", s)
	}
	back, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !back.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("RFC3339Nano reads %v, %v", back, err)
	}
}
