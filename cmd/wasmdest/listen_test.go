package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestUnixListenerAppearsListening: the socket file appears under its name
// only once it accepts connections, a stale one is replaced, no temporary
// file is left, and Close removes the socket.
func TestUnixListenerAppearsListening(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "plugin.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // left by an earlier run
		t.Fatal(err)
	}
	lis, err := listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if got := lis.Addr().String(); got != sock {
		t.Errorf("Addr %q, want %q", got, sock)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "plugin.sock" {
		t.Errorf("directory holds %v, want only plugin.sock", entries)
	}
	go func() {
		if c, err := lis.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dial the socket as soon as it exists: %v", err)
	}
	c.Close()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after Close: %v", err)
	}
}
