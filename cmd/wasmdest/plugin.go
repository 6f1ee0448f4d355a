package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/wasmdest/wasmdest/internal/cqplugin"
)

const pluginUsage = `Usage:
  wasmdest plugin --guest GUEST.wasm [--address HOST:PORT] [--dir DIR] [flags]
      serve the guest as a CloudQuery destination plugin (protocol v3) for registry: grpc
  wasmdest plugin --guest GUEST.wasm [--dir DIR] --launcher PATH
      write an executable for registry: local (CloudQuery starts it with "serve ...")
  wasmdest plugin --guest GUEST.wasm [--dir DIR] serve --network unix|tcp --address ADDR [--log-level L] [--log-format json]
      what that executable runs (docs/cloudquery.md)
`

// cmdPlugin serves one guest over CloudQuery's plugin protocol.
func cmdPlugin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wasmdest plugin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, pluginUsage); fs.PrintDefaults() }
	var c common
	c.register(fs)
	var guest, dir, network, address, launcher string
	var writers int
	fs.StringVar(&guest, "guest", "", "the destination guest (.wasm) to serve")
	fs.StringVar(&dir, "dir", "", "the directory granted to a guest with the filesystem capability (default: the current directory)")
	fs.StringVar(&network, "network", "tcp", "tcp or unix")
	fs.StringVar(&address, "address", "localhost:7777", "address to listen on: HOST:PORT, or a socket path with --network unix")
	fs.StringVar(&launcher, "launcher", "", "write an executable that serves the guest when CloudQuery starts it (registry: local), then exit")
	fs.IntVar(&writers, "writers", 1, "batches written at once, each by its own guest instance (tables with a primary key: only batches sharing no key, and only with guests that list parallel_upserts)")
	// Flags CloudQuery's CLI may pass to a plugin it starts; accepted and unused.
	fs.Bool("no-sentry", false, "accepted for CloudQuery's CLI; unused")
	fs.String("license", "", "accepted for CloudQuery's CLI; unused")
	fs.String("otel-endpoint", "", "accepted for CloudQuery's CLI; unused")
	fs.Bool("otel-endpoint-insecure", false, "accepted for CloudQuery's CLI; unused")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	// CloudQuery starts a plugin as "EXECUTABLE serve --network ...": the
	// launcher runs "wasmdest plugin --guest G serve ...".
	if rest := fs.Args(); len(rest) > 0 {
		if rest[0] != "serve" {
			return fmt.Errorf("plugin: unexpected argument %q (only \"serve\" may follow the flags)", rest[0])
		}
		if err := fs.Parse(rest[1:]); err != nil {
			return exitError{2}
		}
		if len(fs.Args()) > 0 {
			return fmt.Errorf("plugin: unexpected argument %q", fs.Args()[0])
		}
	}
	if guest == "" {
		return errors.New("plugin: give --guest GUEST.wasm")
	}
	if launcher != "" {
		return writeLauncher(launcher, guest, dir, c, stdout)
	}
	if network != "tcp" && network != "unix" {
		return fmt.Errorf("plugin: --network %q is not tcp or unix", network)
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	if c.logFormat == "json" {
		// CloudQuery's CLI reads zerolog-shaped lines: level, message, time.
		lw := &zerologWriter{w: stderr}
		level := hclog.LevelFromString(c.logLevel)
		log = hclog.New(&hclog.LoggerOptions{Name: "wasmdest", Level: level, Output: lw, JSONFormat: true})
	}
	env, err := c.env(ctx, log, "", "")
	if err != nil {
		return err
	}
	defer env.Runtime.Close(context.WithoutCancel(ctx))
	if writers < 1 {
		return fmt.Errorf("plugin: --writers %d: give 1 or more", writers)
	}
	env.Writers = writers
	srv, err := cqplugin.New(ctx, cqplugin.Config{GuestPath: guest, Env: *env, Directory: dir})
	if err != nil {
		return err
	}
	lis, err := listen(network, address)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(cqplugin.ServerOptions()...)
	srv.Register(gs)
	log.Info("serving CloudQuery plugin protocol v3", "guest", guest, "network", network, "address", lis.Addr().String())
	done := make(chan error, 1)
	go func() { done <- gs.Serve(lis) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("stopping")
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		gs.Stop()
	}
	return nil
}

// listen listens on address. A unix socket is bound under a temporary name
// and renamed into place once it listens: net.Listen creates the file at
// bind(2), before listen(2), and a client that waits for the file to appear
// (CloudQuery's CLI, our tests) and dials in that window is refused. The
// socket is removed when the listener closes.
func listen(network, address string) (net.Listener, error) {
	if network != "unix" {
		lis, err := net.Listen(network, address)
		if err != nil {
			return nil, fmt.Errorf("plugin: listen: %w", err)
		}
		return lis, nil
	}
	os.Remove(address) // a socket left by an earlier run
	tmp := fmt.Sprintf("%s.%d.tmp", address, os.Getpid())
	os.Remove(tmp)
	lis, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("plugin: listen: %w", err)
	}
	ul := lis.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	if err := os.Rename(tmp, address); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("plugin: listen: %w", err)
	}
	return &renamedUnixListener{UnixListener: ul, path: address}, nil
}

// renamedUnixListener removes its socket file, under its final name, on Close.
type renamedUnixListener struct {
	*net.UnixListener
	path string
}

// Close closes the listener and removes its socket file.
func (l *renamedUnixListener) Close() error {
	err := l.UnixListener.Close()
	os.Remove(l.path)
	return err
}

// Addr reports the socket's final path.
func (l *renamedUnixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// writeLauncher writes an executable that runs this wasmdest as the guest's
// plugin with the arguments CloudQuery adds ("serve --network ...").
func writeLauncher(path, guest, dir string, c common, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("plugin: --launcher: %w", err)
	}
	abs := func(p string) (string, error) { return filepath.Abs(p) }
	g, err := abs(guest)
	if err != nil {
		return err
	}
	if _, err := os.Stat(g); err != nil {
		return fmt.Errorf("plugin: --guest: %w", err)
	}
	args := []string{exe, "plugin", "--guest", g}
	if dir != "" {
		d, err := abs(dir)
		if err != nil {
			return err
		}
		args = append(args, "--dir", d)
	}
	if c.cacheDir != "" {
		args = append(args, "--cache-dir", c.cacheDir)
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by `wasmdest plugin --launcher`: CloudQuery (registry: local) runs it as\n# EXECUTABLE serve --network ... --address ... --log-level ... --log-format json\nexec")
	for _, a := range args {
		b.WriteString(" '" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	b.WriteString(" \"$@\"\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o755); err != nil {
		return fmt.Errorf("plugin: --launcher: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: use it as a CloudQuery destination with registry: local, path: %s\n", path, path)
	return nil
}

// zerologWriter turns hclog's JSON lines into the shape CloudQuery's CLI
// reads from a plugin (zerolog's): "level" (trace, debug, info, warn,
// error), "message" and "time", the other fields as they are.
type zerologWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (z *zerologWriter) Write(p []byte) (int, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.buf = append(z.buf, p...)
	for {
		i := bytes.IndexByte(z.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := z.buf[:i]
		if _, err := z.w.Write(append(zerologLine(line), '\n')); err != nil {
			return 0, err
		}
		z.buf = z.buf[i+1:]
	}
}

func zerologLine(line []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		m = map[string]any{"level": "info", "message": string(line)}
	}
	for from, to := range map[string]string{"@level": "level", "@message": "message", "@timestamp": "time", "@module": "module", "@caller": "caller"} {
		if v, ok := m[from]; ok {
			delete(m, from)
			m[to] = v
		}
	}
	if _, ok := m["message"].(string); !ok {
		m["message"] = fmt.Sprint(m["message"])
	}
	switch m["level"] {
	case "trace", "debug", "info", "warn", "error":
	default:
		m["level"] = "info"
	}
	out, _ := json.Marshal(m)
	return out
}
