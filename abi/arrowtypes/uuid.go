package arrowtypes

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"github.com/wasmdest/wasmdest/abi"
)

// UUIDType is CloudQuery's "uuid" extension type: 16-byte UUIDs stored as
// fixed_size_binary(16).
type UUIDType struct {
	arrow.ExtensionBase
}

// NewUUIDType returns the "uuid" extension type.
func NewUUIDType() *UUIDType {
	return &UUIDType{ExtensionBase: arrow.ExtensionBase{Storage: &arrow.FixedSizeBinaryType{ByteWidth: 16}}}
}

// ArrayType returns the Go type of arrays of this type, *UUIDArray's element.
func (*UUIDType) ArrayType() reflect.Type { return reflect.TypeOf(UUIDArray{}) }

// ExtensionName returns abi.ExtUUID.
func (*UUIDType) ExtensionName() string { return abi.ExtUUID }

// String returns "extension<uuid>".
func (*UUIDType) String() string { return "extension<" + abi.ExtUUID + ">" }

// Serialize returns the metadata CloudQuery writes, "uuid-serialized".
func (*UUIDType) Serialize() string { return abi.ExtUUID + "-serialized" }

// Deserialize accepts "uuid-serialized" or empty metadata on
// fixed_size_binary(16) storage.
func (*UUIDType) Deserialize(storage arrow.DataType, data string) (arrow.ExtensionType, error) {
	if err := checkSerialized(abi.ExtUUID, data); err != nil {
		return nil, err
	}
	if fsb, ok := storage.(*arrow.FixedSizeBinaryType); !ok || fsb.ByteWidth != 16 {
		return nil, fmt.Errorf("arrowtypes: extension type %q needs fixed_size_binary(16) storage, got %s", abi.ExtUUID, storage)
	}
	return NewUUIDType(), nil
}

// ExtensionEquals reports whether other is also a "uuid" type.
func (t *UUIDType) ExtensionEquals(other arrow.ExtensionType) bool {
	return other != nil && other.ExtensionName() == abi.ExtUUID && arrow.TypeEqual(t.Storage, other.StorageType())
}

// NewBuilder returns a *UUIDBuilder; array.NewBuilder calls it.
func (*UUIDType) NewBuilder(mem memory.Allocator) array.Builder { return NewUUIDBuilder(mem) }

// UUIDArray is an array of "uuid" values.
type UUIDArray struct {
	array.ExtensionArrayBase
}

// Value returns element i (the zero UUID for a null).
func (a *UUIDArray) Value(i int) uuid.UUID {
	if a.IsNull(i) {
		return uuid.Nil
	}
	var u uuid.UUID
	copy(u[:], a.Storage().(*array.FixedSizeBinary).Value(i))
	return u
}

// ValueStr returns element i in its text form, or array.NullValueStr.
func (a *UUIDArray) ValueStr(i int) string {
	if a.IsNull(i) {
		return array.NullValueStr
	}
	return a.Value(i).String()
}

// GetOneForMarshal returns element i as a string, or nil for a null.
func (a *UUIDArray) GetOneForMarshal(i int) any {
	if a.IsNull(i) {
		return nil
	}
	return a.Value(i).String()
}

// MarshalJSON returns the values as a JSON array of strings and nulls.
func (a *UUIDArray) MarshalJSON() ([]byte, error) {
	vals := make([]any, a.Len())
	for i := range vals {
		vals[i] = a.GetOneForMarshal(i)
	}
	return json.Marshal(vals)
}

// String formats the values like other arrays: ["…" (null)].
func (a *UUIDArray) String() string { return quotedList(a.Len(), a.IsNull, a.ValueStr) }

// UUIDBuilder builds "uuid" arrays.
type UUIDBuilder struct {
	*array.ExtensionBuilder
}

// NewUUIDBuilder returns a builder of "uuid" arrays.
func NewUUIDBuilder(mem memory.Allocator) *UUIDBuilder {
	return &UUIDBuilder{ExtensionBuilder: array.NewExtensionBuilder(mem, NewUUIDType())}
}

func (b *UUIDBuilder) storage() *array.FixedSizeBinaryBuilder {
	return b.ExtensionBuilder.Builder.(*array.FixedSizeBinaryBuilder)
}

// Append appends one UUID.
func (b *UUIDBuilder) Append(v uuid.UUID) { b.storage().Append(v[:]) }

// AppendValues appends values; valid, when not empty, marks which are not null.
func (b *UUIDBuilder) AppendValues(v []uuid.UUID, valid []bool) {
	if len(valid) != 0 && len(valid) != len(v) {
		panic("arrowtypes: len(valid) != len(v)")
	}
	for i := range v {
		if len(valid) != 0 && !valid[i] {
			b.AppendNull()
			continue
		}
		b.Append(v[i])
	}
}

// AppendValueFromString parses s as a UUID (array.NullValueStr appends a null).
func (b *UUIDBuilder) AppendValueFromString(s string) error {
	if s == array.NullValueStr {
		b.AppendNull()
		return nil
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return fmt.Errorf("arrowtypes: %q is not a UUID: %w", s, err)
	}
	b.Append(u)
	return nil
}

// NewUUIDArray returns the built array and resets the builder.
func (b *UUIDBuilder) NewUUIDArray() *UUIDArray { return b.NewExtensionArray().(*UUIDArray) }
