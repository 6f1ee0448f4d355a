package main

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"

	"github.com/wasmdest/wasmdest/internal/version"
)

//go:embed templates/newguest
var newGuestTemplates embed.FS

// wasmdestModule is this repository's module path.
const wasmdestModule = "github.com/wasmdest/wasmdest"

var guestNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

func cmdNewGuest(args []string, stdout, stderr io.Writer) error {
	fs := newCommand("new-guest", "wasmdest new-guest NAME [--dir DIR] [--module PATH] [--wasmdest DIR]",
		"Writes a Go guest module that builds and passes the conformance suite as generated.", stdout, stderr)
	var dir, module, checkout string
	fs.StringVar(&dir, "dir", "", "directory to create (default ./NAME); must not exist or be empty")
	fs.StringVar(&module, "module", "", "Go module path of the guest (default example.com/NAME)")
	fs.StringVar(&checkout, "wasmdest", "", "wasmdest checkout to point the module at with a replace directive (default: the checkout around the current directory or this executable, if any)")
	args, err := fs.parseN(args, 1, "NAME")
	if err != nil {
		return err
	}
	name := args[0]
	if !guestNameRE.MatchString(name) {
		return fmt.Errorf("new-guest: name %q: use lower-case letters, digits and dashes, starting with a letter", name)
	}
	if dir == "" {
		dir = name
	}
	if module == "" {
		module = "example.com/" + name
	}
	if checkout == "" {
		checkout = findCheckout()
	} else if !isCheckout(checkout) {
		return fmt.Errorf("new-guest: --wasmdest %s: no go.mod of module %s there", checkout, wasmdestModule)
	}
	if checkout != "" {
		abs, err := filepath.Abs(checkout)
		if err != nil {
			return err
		}
		checkout = abs
	}
	files, err := scaffold(name, module, checkout)
	if err != nil {
		return fmt.Errorf("new-guest: %w", err)
	}
	if err := writeScaffold(dir, files); err != nil {
		return fmt.Errorf("new-guest: %w", err)
	}
	fmt.Fprintf(stdout, "wrote guest %s (module %s) in %s\n", name, module, dir)
	if checkout != "" {
		fmt.Fprintf(stdout, "  go.mod uses the wasmdest checkout at %s (replace directive)\n", checkout)
		if err := tidyOffline(dir); err != nil {
			fmt.Fprintf(stdout, "  go mod tidy without the network failed (%v): run `go mod tidy` in %s first\n", err, dir)
		}
	} else {
		fmt.Fprintf(stdout, "  no wasmdest checkout found: run `go mod tidy` in %s first\n", dir)
	}
	fmt.Fprintf(stdout, "next:\n  cd %s\n  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o %s.wasm .\n  go test ./...    # builds it and runs the conformance suite\n", dir, name)
	return nil
}

// tidyOffline runs `go mod tidy` in dir from the module cache alone: the
// checkout's requirements, which go.mod starts from, are not exactly the new
// module's (module graph pruning keeps other indirect requirements), and go
// commands refuse a go.mod that needs updating.
func tidyOffline(dir string) error {
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// scaffold returns the files of a new guest, by relative path.
func scaffold(name, module, checkout string) (map[string][]byte, error) {
	data := struct {
		Name, Module string
		Replace      bool
	}{name, module, checkout != ""}
	files := map[string][]byte{}
	const root = "templates/newguest"
	err := fs.WalkDir(newGuestTemplates, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := newGuestTemplates.ReadFile(p)
		if err != nil {
			return err
		}
		t, err := template.New(p).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return err
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")
		if rel == "gitignore" {
			rel = ".gitignore"
		}
		files[rel] = out.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	gomod, gosum, err := goModFiles(module, checkout)
	if err != nil {
		return nil, err
	}
	files["go.mod"] = gomod
	if gosum != nil {
		files["go.sum"] = gosum
	}
	return files, nil
}

// goModFiles returns the new module's go.mod and, from a checkout, go.sum.
//
// From a checkout, go.mod requires every module the checkout requires, at
// the checkout's versions, and go.sum is the checkout's: the guest then
// builds without the network, and `go mod tidy` trims what it does not use.
func goModFiles(module, checkout string) (gomod, gosum []byte, err error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "module %s\n\n", module)
	if checkout == "" {
		fmt.Fprintf(&b, "go %s\n\nrequire %s %s\n", goVersion(), wasmdestModule, version.Module())
		return b.Bytes(), nil, nil
	}
	src, err := os.ReadFile(filepath.Join(checkout, "go.mod"))
	if err != nil {
		return nil, nil, err
	}
	goLine, reqs := parseGoMod(src)
	if goLine == "" {
		goLine = goVersion()
	}
	fmt.Fprintf(&b, "go %s\n\nrequire %s v0.0.0\n\n", goLine, wasmdestModule)
	if len(reqs) > 0 {
		b.WriteString("// The requirements of the wasmdest checkout, so that the guest builds\n// offline; `go mod tidy` keeps only those the guest needs.\nrequire (\n")
		for _, r := range reqs {
			fmt.Fprintf(&b, "\t%s // indirect\n", r)
		}
		b.WriteString(")\n\n")
	}
	fmt.Fprintf(&b, "replace %s => %s\n", wasmdestModule, checkout)
	for _, name := range []string{"go.sum"} {
		sum, err := os.ReadFile(filepath.Join(checkout, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		gosum = append(gosum, sum...)
	}
	return b.Bytes(), gosum, nil
}

// parseGoMod returns a go.mod's go version and its requirements as
// "path version" strings.
func parseGoMod(src []byte) (goLine string, reqs []string) {
	sc := bufio.NewScanner(bytes.NewReader(src))
	inRequire := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inRequire && f[0] == ")":
			inRequire = false
		case inRequire && len(f) >= 2:
			reqs = append(reqs, f[0]+" "+f[1])
		case f[0] == "go" && len(f) == 2:
			goLine = f[1]
		case f[0] == "require" && len(f) == 2 && f[1] == "(":
			inRequire = true
		case f[0] == "require" && len(f) >= 3:
			reqs = append(reqs, f[1]+" "+f[2])
		}
	}
	return goLine, reqs
}

// goVersion is the go line for a module made without a checkout: the
// version of the Go that built this command.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if i := strings.IndexAny(v, " -"); i > 0 {
		v = v[:i]
	}
	return v
}

// findCheckout looks for a wasmdest checkout around the current directory,
// then around this executable (dist/wasmdest in a checkout).
func findCheckout() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			if isCheckout(dir) {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

// isCheckout reports whether dir holds the go.mod of this repository's module.
func isCheckout(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	return strings.TrimSpace(string(first)) == "module "+wasmdestModule
}

// writeScaffold writes files into dir, which must not exist or be empty.
func writeScaffold(dir string, files map[string][]byte) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for rel, b := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
