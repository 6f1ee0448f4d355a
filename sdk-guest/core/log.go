package core

import (
	"fmt"
	"io"
	"strings"

	"github.com/wasmdest/wasmdest/abi"
)

var errEOF = io.EOF

// Log writes one line to the host's log under the guest's name. kv are
// alternating keys and values, as go-hclog takes them.
func Log(level abi.Level, msg string, kv ...any) {
	if len(kv) > 0 {
		var b strings.Builder
		b.WriteString(msg)
		for i := 0; i < len(kv); i += 2 {
			if i+1 < len(kv) {
				fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
			} else {
				fmt.Fprintf(&b, " %v", kv[i])
			}
		}
		msg = b.String()
	}
	logLine(level, msg)
}

// Debug logs at debug level.
func Debug(msg string, kv ...any) { Log(abi.LevelDebug, msg, kv...) }

// Info logs at info level.
func Info(msg string, kv ...any) { Log(abi.LevelInfo, msg, kv...) }

// Warn logs at warn level.
func Warn(msg string, kv ...any) { Log(abi.LevelWarn, msg, kv...) }

// Error logs at error level.
func Error(msg string, kv ...any) { Log(abi.LevelError, msg, kv...) }
