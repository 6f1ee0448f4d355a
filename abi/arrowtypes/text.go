package arrowtypes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/wasmdest/wasmdest/abi"
)

// JSONType is CloudQuery's "json" extension type: UTF-8 JSON text stored as
// binary.
type JSONType struct {
	arrow.ExtensionBase
}

// NewJSONType returns the "json" extension type with binary storage.
func NewJSONType() *JSONType {
	return &JSONType{ExtensionBase: arrow.ExtensionBase{Storage: arrow.BinaryTypes.Binary}}
}

// ArrayType returns the Go type of arrays of this type.
func (*JSONType) ArrayType() reflect.Type { return reflect.TypeOf(JSONArray{}) }

// ExtensionName returns abi.ExtJSON.
func (*JSONType) ExtensionName() string { return abi.ExtJSON }

// String returns "extension<json>".
func (*JSONType) String() string { return "extension<" + abi.ExtJSON + ">" }

// Serialize returns the metadata CloudQuery writes, "json-serialized".
func (*JSONType) Serialize() string { return abi.ExtJSON + "-serialized" }

// Deserialize accepts "json-serialized" or empty metadata on binary, utf8,
// large_binary or large_utf8 storage.
func (*JSONType) Deserialize(storage arrow.DataType, data string) (arrow.ExtensionType, error) {
	if err := checkSerialized(abi.ExtJSON, data); err != nil {
		return nil, err
	}
	if err := checkTextStorage(abi.ExtJSON, storage); err != nil {
		return nil, err
	}
	return &JSONType{ExtensionBase: arrow.ExtensionBase{Storage: storage}}, nil
}

// ExtensionEquals reports whether other is also "json" with the same storage.
func (t *JSONType) ExtensionEquals(other arrow.ExtensionType) bool {
	return other != nil && other.ExtensionName() == abi.ExtJSON && arrow.TypeEqual(t.Storage, other.StorageType())
}

// NewBuilder returns a *JSONBuilder; array.NewBuilder calls it.
func (t *JSONType) NewBuilder(mem memory.Allocator) array.Builder {
	return &JSONBuilder{ExtensionBuilder: array.NewExtensionBuilder(mem, t)}
}

// JSONArray is an array of "json" values.
type JSONArray struct {
	array.ExtensionArrayBase
}

// Value returns element i as raw JSON (nil for a null). The bytes alias the
// array's memory unless the storage is a string type.
func (a *JSONArray) Value(i int) json.RawMessage {
	if a.IsNull(i) {
		return nil
	}
	return json.RawMessage(valueBytes(a.Storage(), i))
}

// ValueStr returns element i's JSON text, or array.NullValueStr.
func (a *JSONArray) ValueStr(i int) string {
	if a.IsNull(i) {
		return array.NullValueStr
	}
	return string(valueBytes(a.Storage(), i))
}

// GetOneForMarshal returns element i as json.RawMessage, or nil for a null.
func (a *JSONArray) GetOneForMarshal(i int) any {
	if a.IsNull(i) {
		return nil
	}
	return a.Value(i)
}

// MarshalJSON returns the values as a JSON array (the documents themselves,
// not strings holding them).
func (a *JSONArray) MarshalJSON() ([]byte, error) {
	vals := make([]json.RawMessage, a.Len())
	for i := range vals {
		if a.IsNull(i) {
			vals[i] = json.RawMessage("null")
			continue
		}
		vals[i] = a.Value(i)
	}
	return marshalNoEscape(vals)
}

// String formats the values like other arrays.
func (a *JSONArray) String() string { return quotedList(a.Len(), a.IsNull, a.ValueStr) }

// JSONBuilder builds "json" arrays.
type JSONBuilder struct {
	*array.ExtensionBuilder
}

// NewJSONBuilder returns a builder of "json" arrays with binary storage.
func NewJSONBuilder(mem memory.Allocator) *JSONBuilder {
	return NewJSONType().NewBuilder(mem).(*JSONBuilder)
}

// Append appends v marshalled with encoding/json, without HTML escaping.
// A nil v appends a null.
func (b *JSONBuilder) Append(v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	data, err := marshalNoEscape(v)
	if err != nil {
		return fmt.Errorf("arrowtypes: json: %w", err)
	}
	return appendBytes(b.ExtensionBuilder.Builder, data)
}

// AppendRaw appends a JSON document as it is after checking that it is valid
// JSON. A nil raw appends a null.
func (b *JSONBuilder) AppendRaw(raw []byte) error {
	if raw == nil {
		b.AppendNull()
		return nil
	}
	if !json.Valid(raw) {
		return fmt.Errorf("arrowtypes: json: %.40q is not valid JSON", raw)
	}
	return appendBytes(b.ExtensionBuilder.Builder, raw)
}

// AppendValueFromString appends s as a JSON document (array.NullValueStr
// appends a null).
func (b *JSONBuilder) AppendValueFromString(s string) error {
	if s == array.NullValueStr {
		b.AppendNull()
		return nil
	}
	return b.AppendRaw([]byte(s))
}

// NewJSONArray returns the built array and resets the builder.
func (b *JSONBuilder) NewJSONArray() *JSONArray { return b.NewExtensionArray().(*JSONArray) }

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// InetType is CloudQuery's "inet" extension type: an IP address or an
// address with a prefix length, in text form ("192.168.0.1/24",
// "2001:db8::1"), stored as binary.
type InetType struct {
	arrow.ExtensionBase
}

// NewInetType returns the "inet" extension type with binary storage.
func NewInetType() *InetType {
	return &InetType{ExtensionBase: arrow.ExtensionBase{Storage: arrow.BinaryTypes.Binary}}
}

// ArrayType returns the Go type of arrays of this type.
func (*InetType) ArrayType() reflect.Type { return reflect.TypeOf(InetArray{}) }

// ExtensionName returns abi.ExtInet.
func (*InetType) ExtensionName() string { return abi.ExtInet }

// String returns "extension<inet>".
func (*InetType) String() string { return "extension<" + abi.ExtInet + ">" }

// Serialize returns the metadata CloudQuery writes, "inet-serialized".
func (*InetType) Serialize() string { return abi.ExtInet + "-serialized" }

// Deserialize accepts "inet-serialized" or empty metadata on binary, utf8,
// large_binary or large_utf8 storage.
func (*InetType) Deserialize(storage arrow.DataType, data string) (arrow.ExtensionType, error) {
	if err := checkSerialized(abi.ExtInet, data); err != nil {
		return nil, err
	}
	if err := checkTextStorage(abi.ExtInet, storage); err != nil {
		return nil, err
	}
	return &InetType{ExtensionBase: arrow.ExtensionBase{Storage: storage}}, nil
}

// ExtensionEquals reports whether other is also "inet" with the same storage.
func (t *InetType) ExtensionEquals(other arrow.ExtensionType) bool {
	return other != nil && other.ExtensionName() == abi.ExtInet && arrow.TypeEqual(t.Storage, other.StorageType())
}

// NewBuilder returns an *InetBuilder; array.NewBuilder calls it.
func (t *InetType) NewBuilder(mem memory.Allocator) array.Builder {
	return &InetBuilder{ExtensionBuilder: array.NewExtensionBuilder(mem, t)}
}

// InetArray is an array of "inet" values.
type InetArray struct {
	array.ExtensionArrayBase
}

// Value returns element i's text ("" for a null).
func (a *InetArray) Value(i int) string {
	if a.IsNull(i) {
		return ""
	}
	return string(valueBytes(a.Storage(), i))
}

// ValueStr returns element i's text, or array.NullValueStr.
func (a *InetArray) ValueStr(i int) string {
	if a.IsNull(i) {
		return array.NullValueStr
	}
	return a.Value(i)
}

// GetOneForMarshal returns element i's text, or nil for a null.
func (a *InetArray) GetOneForMarshal(i int) any {
	if a.IsNull(i) {
		return nil
	}
	return a.Value(i)
}

// MarshalJSON returns the values as a JSON array of strings and nulls.
func (a *InetArray) MarshalJSON() ([]byte, error) {
	vals := make([]any, a.Len())
	for i := range vals {
		vals[i] = a.GetOneForMarshal(i)
	}
	return json.Marshal(vals)
}

// String formats the values like other arrays.
func (a *InetArray) String() string { return quotedList(a.Len(), a.IsNull, a.ValueStr) }

// InetBuilder builds "inet" arrays.
type InetBuilder struct {
	*array.ExtensionBuilder
}

// NewInetBuilder returns a builder of "inet" arrays with binary storage.
func NewInetBuilder(mem memory.Allocator) *InetBuilder {
	return NewInetType().NewBuilder(mem).(*InetBuilder)
}

// Append appends an address with a prefix length, keeping host bits
// ("192.168.0.1/24" stays as it is, as PostgreSQL's inet does).
func (b *InetBuilder) Append(p netip.Prefix) {
	_ = appendBytes(b.ExtensionBuilder.Builder, []byte(p.String()))
}

// AppendAddr appends a bare address.
func (b *InetBuilder) AppendAddr(a netip.Addr) {
	_ = appendBytes(b.ExtensionBuilder.Builder, []byte(a.String()))
}

// AppendValueFromString parses s as "addr/bits" or a bare address and
// appends its normalised text (array.NullValueStr appends a null).
func (b *InetBuilder) AppendValueFromString(s string) error {
	if s == array.NullValueStr {
		b.AppendNull()
		return nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		b.Append(p)
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("arrowtypes: %q is not an IP address or address/prefix", s)
	}
	b.AppendAddr(a)
	return nil
}

// NewInetArray returns the built array and resets the builder.
func (b *InetBuilder) NewInetArray() *InetArray { return b.NewExtensionArray().(*InetArray) }

// MACType is CloudQuery's "mac" extension type: a hardware address, stored
// as binary holding its raw bytes (6, or 8 or 20), as CloudQuery's SDK
// writes it. Values in text form ("01:23:45:67:89:ab", what wasmdest's ABI
// 1.0 documented) are read too: no text form is 6, 8 or 20 bytes long.
type MACType struct {
	arrow.ExtensionBase
}

// NewMACType returns the "mac" extension type with binary storage.
func NewMACType() *MACType {
	return &MACType{ExtensionBase: arrow.ExtensionBase{Storage: arrow.BinaryTypes.Binary}}
}

// ArrayType returns the Go type of arrays of this type.
func (*MACType) ArrayType() reflect.Type { return reflect.TypeOf(MACArray{}) }

// ExtensionName returns abi.ExtMAC.
func (*MACType) ExtensionName() string { return abi.ExtMAC }

// String returns "extension<mac>".
func (*MACType) String() string { return "extension<" + abi.ExtMAC + ">" }

// Serialize returns the metadata CloudQuery writes, "mac-serialized".
func (*MACType) Serialize() string { return abi.ExtMAC + "-serialized" }

// Deserialize accepts "mac-serialized" or empty metadata on binary, utf8,
// large_binary or large_utf8 storage.
func (*MACType) Deserialize(storage arrow.DataType, data string) (arrow.ExtensionType, error) {
	if err := checkSerialized(abi.ExtMAC, data); err != nil {
		return nil, err
	}
	if err := checkTextStorage(abi.ExtMAC, storage); err != nil {
		return nil, err
	}
	return &MACType{ExtensionBase: arrow.ExtensionBase{Storage: storage}}, nil
}

// ExtensionEquals reports whether other is also "mac" with the same storage.
func (t *MACType) ExtensionEquals(other arrow.ExtensionType) bool {
	return other != nil && other.ExtensionName() == abi.ExtMAC && arrow.TypeEqual(t.Storage, other.StorageType())
}

// NewBuilder returns a *MACBuilder; array.NewBuilder calls it.
func (t *MACType) NewBuilder(mem memory.Allocator) array.Builder {
	return &MACBuilder{ExtensionBuilder: array.NewExtensionBuilder(mem, t)}
}

// MACArray is an array of "mac" values.
type MACArray struct {
	array.ExtensionArrayBase
}

// Value returns element i's text ("" for a null): its raw bytes formatted
// by net.HardwareAddr, or the text stored.
func (a *MACArray) Value(i int) string {
	if a.IsNull(i) {
		return ""
	}
	v := valueBytes(a.Storage(), i)
	switch len(v) {
	case 6, 8, 20:
		return net.HardwareAddr(v).String()
	}
	return string(v)
}

// Addr returns element i as a hardware address (nil for a null or a value
// that is neither raw bytes nor text of one).
func (a *MACArray) Addr(i int) net.HardwareAddr {
	if a.IsNull(i) {
		return nil
	}
	v := valueBytes(a.Storage(), i)
	switch len(v) {
	case 6, 8, 20:
		return net.HardwareAddr(append([]byte(nil), v...))
	}
	hw, err := net.ParseMAC(string(v))
	if err != nil {
		return nil
	}
	return hw
}

// ValueStr returns element i's text, or array.NullValueStr.
func (a *MACArray) ValueStr(i int) string {
	if a.IsNull(i) {
		return array.NullValueStr
	}
	return a.Value(i)
}

// GetOneForMarshal returns element i's text, or nil for a null.
func (a *MACArray) GetOneForMarshal(i int) any {
	if a.IsNull(i) {
		return nil
	}
	return a.Value(i)
}

// MarshalJSON returns the values as a JSON array of strings and nulls.
func (a *MACArray) MarshalJSON() ([]byte, error) {
	vals := make([]any, a.Len())
	for i := range vals {
		vals[i] = a.GetOneForMarshal(i)
	}
	return json.Marshal(vals)
}

// String formats the values like other arrays.
func (a *MACArray) String() string { return quotedList(a.Len(), a.IsNull, a.ValueStr) }

// MACBuilder builds "mac" arrays.
type MACBuilder struct {
	*array.ExtensionBuilder
}

// NewMACBuilder returns a builder of "mac" arrays with binary storage.
func NewMACBuilder(mem memory.Allocator) *MACBuilder {
	return NewMACType().NewBuilder(mem).(*MACBuilder)
}

// Append appends a hardware address as its raw bytes (CloudQuery's
// encoding). A nil v appends a null.
func (b *MACBuilder) Append(v net.HardwareAddr) {
	if v == nil {
		b.AppendNull()
		return
	}
	_ = appendBytes(b.ExtensionBuilder.Builder, []byte(v))
}

// AppendValueFromString parses s with net.ParseMAC and appends its raw
// bytes (array.NullValueStr appends a null).
func (b *MACBuilder) AppendValueFromString(s string) error {
	if s == array.NullValueStr {
		b.AppendNull()
		return nil
	}
	hw, err := net.ParseMAC(s)
	if err != nil {
		return fmt.Errorf("arrowtypes: %q is not a MAC address", s)
	}
	b.Append(hw)
	return nil
}

// NewMACArray returns the built array and resets the builder.
func (b *MACBuilder) NewMACArray() *MACArray { return b.NewExtensionArray().(*MACArray) }
