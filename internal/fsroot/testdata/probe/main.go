//go:build wasip1

// Command probe is a WASI reactor that tries filesystem operations from its
// initialiser and prints what happened, one line per operation. The host
// tests of package fsroot run it under wazero with different mounts.
//
// PROBE holds the operations, separated by "|"; each is "op arg [arg]" with
// arguments separated by spaces:
//
//	read PATH            print the file's content
//	write PATH TEXT      create or truncate PATH and write TEXT
//	mkdir PATH
//	symlink TARGET LINK
//	link OLD NEW
//	rename FROM TO
//	remove PATH
//	readdir PATH         print the names, comma-separated
//	stat PATH            print the size
//	sync PATH TEXT       write TEXT, then fsync and close
//	openat PATH          raw path_open of PATH on the preopened fd 3, with
//	                     no cleaning by Go (to send ".." to the host)
//
// Each output line is "OK op result" or "ERR op error".
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
)

func init() {
	for _, line := range strings.Split(os.Getenv("PROBE"), "|") {
		args := strings.Fields(line)
		if len(args) == 0 {
			continue
		}
		res, err := run(args)
		if err != nil {
			fmt.Printf("ERR %s %v\n", line, err)
			continue
		}
		fmt.Printf("OK %s %s\n", line, res)
	}
}

func run(a []string) (string, error) {
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	switch a[0] {
	case "read":
		b, err := os.ReadFile(arg(1))
		return string(b), err
	case "write":
		return "", os.WriteFile(arg(1), []byte(arg(2)), 0o644)
	case "mkdir":
		return "", os.Mkdir(arg(1), 0o755)
	case "symlink":
		return "", os.Symlink(arg(1), arg(2))
	case "link":
		return "", os.Link(arg(1), arg(2))
	case "rename":
		return "", os.Rename(arg(1), arg(2))
	case "remove":
		return "", os.Remove(arg(1))
	case "readdir":
		es, err := os.ReadDir(arg(1))
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		return strings.Join(names, ","), err
	case "stat":
		fi, err := os.Stat(arg(1))
		if err != nil {
			return "", err
		}
		return fmt.Sprint(fi.Size()), nil
	case "sync":
		f, err := os.Create(arg(1))
		if err != nil {
			return "", err
		}
		if _, err := f.WriteString(arg(2)); err != nil {
			return "", err
		}
		if err := f.Sync(); err != nil {
			return "", err
		}
		return "", f.Close()
	case "openat":
		fd, err := syscall.Openat(3, arg(1), syscall.O_RDONLY, 0)
		if err != nil {
			return "", err
		}
		syscall.Close(fd)
		return "", nil
	}
	return "", fmt.Errorf("unknown operation %q", a[0])
}

func main() {}
