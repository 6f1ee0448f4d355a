//go:build wasip1

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi"
	sdk "github.com/wasmdest/wasmdest/sdk-guest"
)

// spec is the nested spec of the file destination.
type spec struct {
	Path     string `json:"path"`
	Format   string `json:"format"`
	NoRotate bool   `json:"no_rotate"`
}

// openFile is a file being written under a temporary name; it gets its final
// name when finished, so a crash never leaves a half file under that name.
type openFile struct {
	final, tmp string
	f          *os.File
	w          *bufio.Writer
}

type destination struct {
	spec spec
	// open holds, per table, the file kept open across batches with no_rotate.
	open map[string]*openFile
}

func (d *destination) Init(_ context.Context, req abi.InitRequest) error {
	if err := json.Unmarshal(req.Spec, &d.spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	if d.spec.Format == "" {
		d.spec.Format = "json"
	}
	if d.spec.Format != "json" {
		return fmt.Errorf("spec: format %q is not supported; use json", d.spec.Format)
	}
	if !strings.Contains(d.spec.Path, "{{TABLE}}") {
		d.spec.Path = strings.TrimSuffix(d.spec.Path, "/") + "/{{TABLE}}.{{FORMAT}}"
	}
	d.open = map[string]*openFile{}
	return nil
}

func (d *destination) Write(_ context.Context, table string, records array.RecordReader) error {
	of := d.open[table]
	if of == nil {
		var err error
		if of, err = d.create(table); err != nil {
			return err
		}
	}
	for records.Next() {
		if err := array.RecordToJSON(records.RecordBatch(), of.w); err != nil {
			return fmt.Errorf("table %s: write %s: %w", table, of.final, err)
		}
	}
	if err := records.Err(); err != nil {
		return fmt.Errorf("table %s: %w", table, err)
	}
	if d.spec.NoRotate {
		d.open[table] = of
		return of.w.Flush()
	}
	return of.finish()
}

func (d *destination) create(table string) (*openFile, error) {
	name, err := sdk.Expand(abi.ExpandRequest{Template: d.spec.Path, Table: table, Format: d.spec.Format})
	if err != nil {
		return nil, fmt.Errorf("table %s: path: %w", table, err)
	}
	name = path.Clean("/" + name)
	if err := os.MkdirAll(path.Dir(name), 0o755); err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	if _, err := os.Stat(name); err == nil {
		return nil, fmt.Errorf("table %s: %s exists already: put {{UUID}} in the path to write one file per batch, or set no_rotate", table, name)
	}
	tmp := path.Join(path.Dir(name), "."+path.Base(name)+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	return &openFile{final: name, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

func (of *openFile) finish() error {
	err := errors.Join(of.w.Flush(), of.f.Sync(), of.f.Close())
	if err == nil {
		err = os.Rename(of.tmp, of.final)
	}
	if err != nil {
		os.Remove(of.tmp)
		return fmt.Errorf("finish %s: %w", of.final, err)
	}
	sdk.Debug("file written", "path", of.final)
	return nil
}

func (d *destination) Close(context.Context) error {
	var errs []error
	for table, of := range d.open {
		errs = append(errs, of.finish())
		delete(d.open, table)
	}
	return errors.Join(errs...)
}
