package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"

	"github.com/wasmdest/wasmdest/abi"
)

func init() {
	mysql.SetLogger(driverLog{})
	register(&driverInfo{
		name:    abi.SQLDriverMySQL,
		methods: []string{abi.SQLLoadRows, abi.SQLLoadInfile},
		open:    openMySQL,
		hostError: func(err error, he *abi.HostError) {
			var me *mysql.MySQLError
			if errors.As(err, &me) {
				he.SQLState = string(me.SQLState[:])
				if he.SQLState == "\x00\x00\x00\x00\x00" {
					he.SQLState = ""
				}
				he.Detail = fmt.Sprintf("error %d", me.Number)
			}
		},
	})
}

// openMySQL opens a MySQL 8 or MariaDB server with go-sql-driver/mysql
// (pure Go). The session runs in UTC with the utf8mb4 character set;
// DATETIME values are read as time.Time.
func openMySQL(_ context.Context, dsn string) (*sql.DB, func() error, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("not a valid DSN (not shown: it may hold a password): %s", dsnReason(err))
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	if !strings.Contains(cfg.FormatDSN(), "charset=") {
		cfg.Apply(mysql.Charset("utf8mb4", ""))
	}
	cfg.MultiStatements = false
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("not a valid DSN (not shown: it may hold a password): %s", dsnReason(err))
	}
	db := sql.OpenDB(conn)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil, nil
}

// dsnReason returns why a DSN did not parse. The driver's parse errors
// name the part at fault, never the password.
func dsnReason(err error) string { return strings.TrimPrefix(err.Error(), "invalid DSN: ") }

// connectionLost reports whether err is a broken connection rather than
// an answer from the server.
func connectionLost(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn)
}

// driverLog sends go-sql-driver/mysql's own log lines (it prints broken
// connections to stderr) to hclog's default logger at debug: the error
// reaches the guest and the call's error anyway.
type driverLog struct{}

func (driverLog) Print(v ...any) {
	hclog.Default().Named("mysql").Debug(strings.TrimSpace(fmt.Sprint(v...)))
}
