package arrowtypes

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
)

// IsPrimaryKey reports whether f's metadata marks it as part of the primary
// key (abi.MetaPrimaryKey = "true").
func IsPrimaryKey(f arrow.Field) bool { return isTrue(f.Metadata, abi.MetaPrimaryKey) }

// IsUnique reports whether f's metadata marks it unique (abi.MetaUnique = "true").
func IsUnique(f arrow.Field) bool { return isTrue(f.Metadata, abi.MetaUnique) }

// PrimaryKeys returns the names of s's primary key fields, in schema order.
func PrimaryKeys(s *arrow.Schema) []string { return names(s, IsPrimaryKey) }

// UniqueColumns returns the names of s's unique fields, in schema order.
func UniqueColumns(s *arrow.Schema) []string { return names(s, IsUnique) }

func names(s *arrow.Schema, marked func(arrow.Field) bool) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, f := range s.Fields() {
		if marked(f) {
			out = append(out, f.Name)
		}
	}
	return out
}

func isTrue(md arrow.Metadata, key string) bool {
	v, ok := md.GetValue(key)
	return ok && v == abi.MetaTrue
}
