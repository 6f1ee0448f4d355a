package arrowtypes_test

import (
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

func TestPrimaryKeysUnique(t *testing.T) {
	md := func(kv ...string) arrow.Metadata {
		var ks, vs []string
		for i := 0; i < len(kv); i += 2 {
			ks, vs = append(ks, kv[i]), append(vs, kv[i+1])
		}
		return arrow.NewMetadata(ks, vs)
	}
	s := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64, Metadata: md(abi.MetaPrimaryKey, abi.MetaTrue)},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64, Metadata: md(abi.MetaUnique, abi.MetaTrue)},
		{Name: "c", Type: arrow.PrimitiveTypes.Int64, Metadata: md(abi.MetaPrimaryKey, abi.MetaTrue, abi.MetaUnique, abi.MetaTrue, abi.MetaIncremental, abi.MetaTrue)},
		{Name: "d", Type: arrow.PrimitiveTypes.Int64, Metadata: md(abi.MetaPrimaryKey, "false", abi.MetaUnique, "TRUE")},
		{Name: "e", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	if got := arrowtypes.PrimaryKeys(s); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Errorf("PrimaryKeys = %v", got)
	}
	if got := arrowtypes.UniqueColumns(s); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("UniqueColumns = %v", got)
	}
	if !arrowtypes.IsPrimaryKey(s.Field(0)) || arrowtypes.IsPrimaryKey(s.Field(1)) || !arrowtypes.IsUnique(s.Field(1)) || arrowtypes.IsUnique(s.Field(3)) {
		t.Error("IsPrimaryKey/IsUnique disagree with the metadata")
	}
	if arrowtypes.PrimaryKeys(nil) != nil || arrowtypes.UniqueColumns(nil) != nil {
		t.Error("nil schema")
	}
}
