// Package arrowtypes implements the Arrow side of the wasmdest wire
// contract: CloudQuery's extension types "uuid", "json", "inet" and "mac",
// and the reading of CloudQuery's field metadata (IsPrimaryKey, IsUnique).
//
// The types follow CloudQuery's IPC form so that data written by CloudQuery
// sources decodes as the same types here:
//
//	name  storage                   ARROW:extension:metadata
//	uuid  fixed_size_binary(16)     "uuid-serialized"
//	json  binary (UTF-8 JSON text)  "json-serialized"
//	inet  binary (text, e.g. "192.168.0.1/24")  "inet-serialized"
//	mac   binary (raw address bytes: 6, 8 or 20) "mac-serialized"
//
// Deserialize also accepts empty metadata, and, for json, inet and mac,
// utf8, large_utf8 and large_binary storage (older CloudQuery SDKs wrote inet
// and mac as utf8). The constructors always use the storage above.
//
// The canonical Arrow extension types "arrow.uuid" and "arrow.json" are not
// re-implemented: arrow-go's arrow/extensions package provides and registers
// them. This package does not import it (it pulls in parts of arrow-go's
// Parquet, megabytes of a guest that never needs them): a program that must
// decode those types as extension types imports it itself, as the host and
// the postgres guest do. The Is* helpers accept either naming.
//
// Call Register before decoding IPC so that the types decode as extension
// types rather than as their storage. The package builds for GOOS=wasip1.
package arrowtypes

import (
	"fmt"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/wasmdest/wasmdest/abi"
)

var registerOnce sync.Once

// Register adds this package's extension types to arrow-go's global
// registry. It is idempotent and safe to call concurrently from many places.
// A name that is already registered (by an earlier call, or by another
// package registering its own type of that name) is left as it is; the Is*
// helpers still recognise such types by name.
func Register() {
	registerOnce.Do(func() {
		for _, t := range []arrow.ExtensionType{NewUUIDType(), NewJSONType(), NewInetType(), NewMACType()} {
			// The only error RegisterExtensionType returns is "already
			// defined", which is what idempotence wants to ignore.
			_ = arrow.RegisterExtensionType(t)
		}
	})
}

// Types returns new instances of the four extension types of this package,
// in the order uuid, json, inet, mac.
func Types() []arrow.ExtensionType {
	return []arrow.ExtensionType{NewUUIDType(), NewJSONType(), NewInetType(), NewMACType()}
}

func extension(dt arrow.DataType) (name string, storage arrow.DataType, ok bool) {
	ext, ok := dt.(arrow.ExtensionType)
	if !ok || ext == nil {
		return "", nil, false
	}
	return ext.ExtensionName(), ext.StorageType(), true
}

// IsUUID reports whether dt is a UUID extension type: CloudQuery's "uuid" or
// the canonical "arrow.uuid", with fixed_size_binary(16) storage.
func IsUUID(dt arrow.DataType) bool {
	name, storage, ok := extension(dt)
	if !ok || (name != abi.ExtUUID && name != abi.ExtCanonicalUUID) {
		return false
	}
	fsb, ok := storage.(*arrow.FixedSizeBinaryType)
	return ok && fsb.ByteWidth == 16
}

// IsJSON reports whether dt is a JSON extension type: CloudQuery's "json"
// or the canonical "arrow.json", with binary or string storage.
func IsJSON(dt arrow.DataType) bool {
	name, storage, ok := extension(dt)
	if !ok || (name != abi.ExtJSON && name != abi.ExtCanonicalJSON) {
		return false
	}
	return isBinaryLike(storage)
}

// IsInet reports whether dt is CloudQuery's "inet" extension type.
func IsInet(dt arrow.DataType) bool {
	name, storage, ok := extension(dt)
	return ok && name == abi.ExtInet && isBinaryLike(storage)
}

// IsMAC reports whether dt is CloudQuery's "mac" extension type.
func IsMAC(dt arrow.DataType) bool {
	name, storage, ok := extension(dt)
	return ok && name == abi.ExtMAC && isBinaryLike(storage)
}

// isBinaryLike reports whether t is one of the variable-length binary or
// string types whose values can be read as bytes.
func isBinaryLike(t arrow.DataType) bool {
	if t == nil {
		return false
	}
	switch t.ID() {
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY_VIEW, arrow.STRING_VIEW:
		return true
	}
	return false
}

// textStorage lists the storage types Deserialize accepts for the text-like
// types json, inet and mac. The first is the one the constructors use.
var textStorage = []arrow.DataType{
	arrow.BinaryTypes.Binary,
	arrow.BinaryTypes.String,
	arrow.BinaryTypes.LargeBinary,
	arrow.BinaryTypes.LargeString,
}

func checkTextStorage(name string, storage arrow.DataType) error {
	for _, t := range textStorage {
		if arrow.TypeEqual(t, storage) {
			return nil
		}
	}
	return fmt.Errorf("arrowtypes: extension type %q needs binary, utf8, large_binary or large_utf8 storage, got %s", name, storage)
}

// checkSerialized accepts the metadata CloudQuery writes ("<name>-serialized")
// and empty metadata.
func checkSerialized(name, data string) error {
	if data == "" || data == name+"-serialized" {
		return nil
	}
	return fmt.Errorf("arrowtypes: extension type %q: unexpected metadata %q (want %q or empty)", name, data, name+"-serialized")
}

// valueBytes returns the bytes of element i of a binary-like array. It
// returns nil for other arrays.
func valueBytes(arr arrow.Array, i int) []byte {
	switch a := arr.(type) {
	case *array.Binary:
		return a.Value(i)
	case *array.LargeBinary:
		return a.Value(i)
	case *array.String:
		return []byte(a.Value(i))
	case *array.LargeString:
		return []byte(a.Value(i))
	case *array.BinaryView:
		return a.Value(i)
	case *array.StringView:
		return []byte(a.Value(i))
	}
	return nil
}

// appendBytes appends v to a binary-like storage builder.
func appendBytes(b array.Builder, v []byte) error {
	switch sb := b.(type) {
	case *array.StringBuilder:
		sb.BinaryBuilder.Append(v)
	case *array.LargeStringBuilder:
		sb.BinaryBuilder.Append(v)
	case *array.BinaryBuilder:
		sb.Append(v)
	case *array.BinaryViewBuilder:
		sb.Append(v)
	case *array.StringViewBuilder:
		sb.Append(string(v))
	default:
		return fmt.Errorf("arrowtypes: unsupported storage builder %T", b)
	}
	return nil
}

// quotedList formats values as String() methods of arrays do: [v1 v2 (null)].
func quotedList(n int, isNull func(int) bool, str func(int) string) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(' ')
		}
		if isNull(i) {
			sb.WriteString(array.NullValueStr)
			continue
		}
		fmt.Fprintf(&sb, "%q", str(i))
	}
	sb.WriteByte(']')
	return sb.String()
}
