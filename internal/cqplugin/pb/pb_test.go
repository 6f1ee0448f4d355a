package pb

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// wantFields is the field table of docs/cloudquery.md: for each message, by
// its full protobuf name, "number name kind" of every field. The wire
// compatibility with CloudQuery's CLI rests on exactly these.
var wantFields = map[string][]string{
	"cloudquery.discovery.v1.GetVersions.Request":  nil,
	"cloudquery.discovery.v1.GetVersions.Response": {"1 versions repeated int32"},

	"cloudquery.plugin.v3.GetName.Request":           nil,
	"cloudquery.plugin.v3.GetName.Response":          {"1 name string"},
	"cloudquery.plugin.v3.GetVersion.Response":       {"1 version string"},
	"cloudquery.plugin.v3.GetSpecSchema.Response":    {"1 json_schema optional string"},
	"cloudquery.plugin.v3.Init.Request":              {"1 spec bytes", "2 no_connection bool", "3 invocation_id string"},
	"cloudquery.plugin.v3.Init.Response":             nil,
	"cloudquery.plugin.v3.GetTables.Request":         {"1 tables repeated string", "2 skip_tables repeated string", "3 skip_dependent_tables bool"},
	"cloudquery.plugin.v3.GetTables.Response":        {"1 tables repeated bytes"},
	"cloudquery.plugin.v3.Read.Request":              {"1 table bytes"},
	"cloudquery.plugin.v3.Read.Response":             {"1 record bytes"},
	"cloudquery.plugin.v3.Close.Request":             nil,
	"cloudquery.plugin.v3.Close.Response":            nil,
	"cloudquery.plugin.v3.TestConnection.Request":    {"1 spec bytes"},
	"cloudquery.plugin.v3.TestConnection.Response":   {"1 success bool", "2 failure_code string", "3 failure_description string"},
	"cloudquery.plugin.v3.Write.Response":            nil,
	"cloudquery.plugin.v3.Write.MessageMigrateTable": {"1 table bytes", "2 migrate_force bool"},
	"cloudquery.plugin.v3.Write.MessageInsert":       {"1 record bytes"},
	"cloudquery.plugin.v3.Write.MessageDeleteStale": {"1 table bytes", "2 source_name string",
		"3 sync_time message google.protobuf.Timestamp", "4 table_name string"},
	"cloudquery.plugin.v3.Write.MessageDeleteRecord": {"1 table_name string",
		"2 where_clause repeated message cloudquery.plugin.v3.PredicatesGroup",
		"3 table_relations repeated message cloudquery.plugin.v3.TableRelation"},
	"cloudquery.plugin.v3.Write.Request": {
		"1 migrate_table oneof(message) message cloudquery.plugin.v3.Write.MessageMigrateTable",
		"2 insert oneof(message) message cloudquery.plugin.v3.Write.MessageInsert",
		"3 delete oneof(message) message cloudquery.plugin.v3.Write.MessageDeleteStale",
		"4 delete_record oneof(message) message cloudquery.plugin.v3.Write.MessageDeleteRecord"},
	"cloudquery.plugin.v3.PredicatesGroup": {"1 grouping_type enum cloudquery.plugin.v3.PredicatesGroup.GroupingType",
		"2 predicates repeated message cloudquery.plugin.v3.Predicate"},
	"cloudquery.plugin.v3.Predicate":     {"1 operator enum cloudquery.plugin.v3.Predicate.Operator", "2 column string", "3 record bytes"},
	"cloudquery.plugin.v3.TableRelation": {"1 table_name string", "2 parent_table string"},
}

// wantEnums are the enum values of the table.
var wantEnums = map[string][]string{
	"cloudquery.plugin.v3.PredicatesGroup.GroupingType": {"0 AND", "1 OR"},
	"cloudquery.plugin.v3.Predicate.Operator":           {"0 EQ"},
}

// wantMethods are the services and RPCs of the table, with their streaming.
var wantMethods = map[string][]string{
	"cloudquery.discovery.v1.Discovery": {"GetVersions unary"},
	"cloudquery.plugin.v3.Plugin": {"Close unary", "GetName unary", "GetSpecSchema unary", "GetTables unary",
		"GetVersion unary", "Init unary", "Read server-stream", "TestConnection unary", "Write client-stream"},
}

func describeField(f protoreflect.FieldDescriptor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", f.Number(), f.Name())
	if f.Cardinality() == protoreflect.Repeated {
		b.WriteString(" repeated")
	}
	if o := f.ContainingOneof(); o != nil {
		if o.IsSynthetic() {
			b.WriteString(" optional")
		} else {
			fmt.Fprintf(&b, " oneof(%s)", o.Name())
		}
	}
	fmt.Fprintf(&b, " %s", f.Kind())
	switch f.Kind() {
	case protoreflect.MessageKind:
		fmt.Fprintf(&b, " %s", f.Message().FullName())
	case protoreflect.EnumKind:
		fmt.Fprintf(&b, " %s", f.Enum().FullName())
	}
	return b.String()
}

func TestFieldsMatchTheProtocolTable(t *testing.T) {
	for name, want := range wantFields {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Errorf("message %s: %v", name, err)
			continue
		}
		md := d.(protoreflect.MessageDescriptor)
		var got []string
		for i := 0; i < md.Fields().Len(); i++ {
			got = append(got, describeField(md.Fields().Get(i)))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("message %s:\n got %q\nwant %q", name, got, want)
		}
	}
	for name, want := range wantEnums {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Errorf("enum %s: %v", name, err)
			continue
		}
		ed := d.(protoreflect.EnumDescriptor)
		var got []string
		for i := 0; i < ed.Values().Len(); i++ {
			v := ed.Values().Get(i)
			got = append(got, fmt.Sprintf("%d %s", v.Number(), v.Name()))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("enum %s: got %q, want %q", name, got, want)
		}
	}
	for name, want := range wantMethods {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Errorf("service %s: %v", name, err)
			continue
		}
		sd := d.(protoreflect.ServiceDescriptor)
		var got []string
		for i := 0; i < sd.Methods().Len(); i++ {
			m := sd.Methods().Get(i)
			kind := "unary"
			switch {
			case m.IsStreamingClient() && m.IsStreamingServer():
				kind = "bidi"
			case m.IsStreamingClient():
				kind = "client-stream"
			case m.IsStreamingServer():
				kind = "server-stream"
			}
			got = append(got, string(m.Name())+" "+kind)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("service %s: got %q, want %q", name, got, want)
		}
	}
}

// TestGRPCMethodPaths checks the paths the CLI calls.
func TestGRPCMethodPaths(t *testing.T) {
	for got, want := range map[string]string{
		Discovery_GetVersions_FullMethodName: "/cloudquery.discovery.v1.Discovery/GetVersions",
		Plugin_Init_FullMethodName:           "/cloudquery.plugin.v3.Plugin/Init",
		Plugin_Write_FullMethodName:          "/cloudquery.plugin.v3.Plugin/Write",
		Plugin_Read_FullMethodName:           "/cloudquery.plugin.v3.Plugin/Read",
		Plugin_TestConnection_FullMethodName: "/cloudquery.plugin.v3.Plugin/TestConnection",
	} {
		if got != want {
			t.Errorf("method path %s, want %s", got, want)
		}
	}
}
