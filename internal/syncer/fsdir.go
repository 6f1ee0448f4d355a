package syncer

import (
	"fmt"
	"path"
	"strings"
)

// pathDirectory derives the directory to grant a filesystem guest from an
// absolute path in its spec, as CloudQuery's file destination takes them
// (path: /data/out/{{TABLE}}/{{UUID}}.{{FORMAT}}): the path's fixed prefix,
// the directories before the first with a placeholder, without the file
// name. It returns that directory and the path relative to it (with a
// leading "/", which the file guest takes as the granted directory), or
// ok false when p is not an absolute path.
func pathDirectory(p any) (dir, rel string, ok bool, err error) {
	s, isString := p.(string)
	if !isString || !strings.HasPrefix(s, "/") {
		return "", "", false, nil
	}
	parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
	n := 0
	for n < len(parts)-1 && !strings.Contains(parts[n], "{{") && parts[n] != ".." {
		n++
	}
	if n == 0 {
		return "", "", false, fmt.Errorf("spec.path %q is absolute but has no fixed directory to grant: set the destination's directory, or start the path with one (/data/out/{{TABLE}}/...)", s)
	}
	dir = path.Clean("/" + strings.Join(parts[:n], "/"))
	return dir, "/" + strings.Join(parts[n:], "/"), true, nil
}
