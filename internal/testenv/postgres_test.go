package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(RunMain(m)) }

func currentDatabase(t *testing.T, url string) (string, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var db string
	err = conn.QueryRow(ctx, "SELECT current_database()").Scan(&db)
	return db, err
}

func TestPostgresURLGivesFreshDatabases(t *testing.T) {
	a, b := PostgresURL(t), PostgresURL(t)
	da, err := currentDatabase(t, a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := currentDatabase(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if da == db {
		t.Fatalf("two calls gave the same database %q", da)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5/postgres?sslmode=disable": "postgres://u:p@h:5/x?sslmode=disable",
		"postgres://u@h/":               "postgres://u@h/x",
		"host=h user=u dbname=postgres": "host=h user=u dbname=postgres dbname='x'",
	} {
		got, err := withDatabase(in, "x")
		if err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestStopStartAndTerminate(t *testing.T) {
	url := PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if n := TerminateBackends(t, url); n != 1 {
		t.Errorf("terminated %d backends, want 1", n)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("a terminated session still answers")
	}
	StopPostgres(t)
	if _, err := currentDatabase(t, url); err == nil {
		t.Fatal("connected to a stopped server")
	}
	StartPostgres(t)
	if _, err := currentDatabase(t, url); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
