package config

import "strings"

// validSemver reports whether v is "v" followed by a Semantic Versioning
// 2.0.0 version: MAJOR.MINOR.PATCH, then optionally -PRERELEASE and
// +BUILD.
func validSemver(v string) bool {
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return false
	}
	rest, build, hasBuild := strings.Cut(rest, "+")
	if hasBuild && !validIdents(build, false) {
		return false
	}
	core, pre, hasPre := strings.Cut(rest, "-")
	if hasPre && !validIdents(pre, true) {
		return false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if !isNumeric(p) || len(p) > 1 && p[0] == '0' {
			return false
		}
	}
	return true
}

// validIdents checks dot-separated identifiers of a pre-release (where
// numeric identifiers must not have leading zeros) or of build metadata.
func validIdents(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for _, c := range id {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if pre && isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
