package arrowtypes

import (
	"fmt"

	// arrow-go's JSON reader hands builders a *json.Decoder of goccy/go-json
	// (arrow/internal/json aliases it), so the methods below take that type.
	json "github.com/goccy/go-json"
)

// stringBuilder is a builder whose values have a text form.
type stringBuilder interface {
	AppendNull()
	AppendValueFromString(string) error
}

// unmarshalOne reads one JSON string (or null) into b.
func unmarshalOne(b stringBuilder, name string, dec *json.Decoder) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := t.(type) {
	case nil:
		b.AppendNull()
		return nil
	case string:
		return b.AppendValueFromString(v)
	}
	return fmt.Errorf("arrowtypes: %s value must be a JSON string or null, not %v", name, t)
}

func unmarshalAll(dec *json.Decoder, one func(*json.Decoder) error) error {
	for dec.More() {
		if err := one(dec); err != nil {
			return err
		}
	}
	return nil
}

// UnmarshalOne reads one value as arrow-go's JSON reader writes it: the UUID's text form.
func (b *UUIDBuilder) UnmarshalOne(dec *json.Decoder) error { return unmarshalOne(b, "uuid", dec) }

// Unmarshal reads values until the end of the enclosing JSON array.
func (b *UUIDBuilder) Unmarshal(dec *json.Decoder) error { return unmarshalAll(dec, b.UnmarshalOne) }

// UnmarshalOne reads one value: the address's text form.
func (b *InetBuilder) UnmarshalOne(dec *json.Decoder) error { return unmarshalOne(b, "inet", dec) }

// Unmarshal reads values until the end of the enclosing JSON array.
func (b *InetBuilder) Unmarshal(dec *json.Decoder) error { return unmarshalAll(dec, b.UnmarshalOne) }

// UnmarshalOne reads one value: the MAC address's text form.
func (b *MACBuilder) UnmarshalOne(dec *json.Decoder) error { return unmarshalOne(b, "mac", dec) }

// Unmarshal reads values until the end of the enclosing JSON array.
func (b *MACBuilder) Unmarshal(dec *json.Decoder) error { return unmarshalAll(dec, b.UnmarshalOne) }

// UnmarshalOne reads one JSON value of any kind as the document it holds;
// a JSON null is a null.
func (b *JSONBuilder) UnmarshalOne(dec *json.Decoder) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if string(raw) == "null" {
		b.AppendNull()
		return nil
	}
	return b.AppendRaw(raw)
}

// Unmarshal reads values until the end of the enclosing JSON array.
func (b *JSONBuilder) Unmarshal(dec *json.Decoder) error { return unmarshalAll(dec, b.UnmarshalOne) }
