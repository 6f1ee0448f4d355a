package filedest

// Names: the files and objects of both guests are named from their spec's
// path template: the host expands the placeholders ({{TABLE}}, {{UUID}},
// {{YEAR}}, {{SYNC_ID}}, ...) and the result is checked and made relative
// by filespec.CleanPath.

import (
	"fmt"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/internal/filespec"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// Name expands the spec's path for a new file or object of table and
// returns it relative to the destination's root (a directory, a bucket),
// without a leading "/".
func Name(spec *filespec.Spec, table string) (string, error) {
	name, err := core.Expand(abi.ExpandRequest{Template: spec.Path, Table: table, Format: spec.Extension()})
	if err != nil {
		return "", fmt.Errorf("table %s: path %q: %w", table, spec.Path, err)
	}
	rel, err := filespec.CleanPath(name)
	if err != nil {
		return "", fmt.Errorf("table %s: path %q expands to %w", table, spec.Path, err)
	}
	return rel, nil
}

// ExistsFix says how to avoid writing a name that exists already: what the
// path needs so that every file or object gets a name of its own.
func ExistsFix(noRotate bool) string {
	if noRotate {
		return "put {{SYNC_ID}} or a time placeholder such as {{YEAR}}-{{MONTH}}-{{DAY}}T{{HOUR}}{{MINUTE}} in the path, or move the old one away"
	}
	return "put {{UUID}} in the path"
}
