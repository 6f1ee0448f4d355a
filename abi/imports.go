package abi

import "strings"

// ValueType is a WebAssembly value type in a host function's signature. The
// values are the types' binary encoding, the same as wazero's api.ValueType.
type ValueType byte

const (
	// I32 is the WebAssembly i32.
	I32 ValueType = 0x7f
	// I64 is the WebAssembly i64.
	I64 ValueType = 0x7e
)

// String returns the type's name as the WebAssembly text format writes it.
func (t ValueType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	}
	return "unknown"
}

// Param is a named parameter of a host function.
type Param struct {
	Name string
	Type ValueType
}

// Import is one host function of the ABI, imported from ImportModule.
type Import struct {
	Name    string
	Params  []Param
	Results []ValueType
	// Capability is the capability a guest must ask for (and be granted)
	// to call the function; "" for the functions every guest may call.
	Capability Capability
}

// Signature writes the import's type as ABI.md does: "(ptr i32, len i32) -> i64",
// "() -> ()".
func (i Import) Signature() string {
	var b strings.Builder
	b.WriteByte('(')
	for n, p := range i.Params {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name + " " + p.Type.String())
	}
	b.WriteString(") -> ")
	switch len(i.Results) {
	case 0:
		b.WriteString("()")
	case 1:
		b.WriteString(i.Results[0].String())
	default:
		b.WriteByte('(')
		for n, t := range i.Results {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.String())
		}
		b.WriteByte(')')
	}
	return b.String()
}

// ParamTypes returns the types of the import's parameters.
func (i Import) ParamTypes() []ValueType {
	out := make([]ValueType, len(i.Params))
	for n, p := range i.Params {
		out[n] = p.Type
	}
	return out
}

var (
	pLevel = Param{"level", I32}
	pPtr   = Param{"ptr", I32}
	pLen   = Param{"len", I32}
	pCap   = Param{"cap", I32}
	pTx    = Param{"tx", I64}
	pH     = Param{"h", I64}
)

// imports is the table of section 3 of ABI.md, in its order. A test checks
// that the two agree.
var imports = []Import{
	{ImportLog, []Param{pLevel, pPtr, pLen}, nil, ""},
	{ImportSetError, []Param{pPtr, pLen}, nil, ""},
	{ImportInputRead, []Param{pPtr, pCap}, []ValueType{I32}, ""},
	{ImportOutput, []Param{pPtr, pLen}, []ValueType{I32}, ""},
	{ImportResultRead, []Param{pPtr, pCap}, []ValueType{I32}, ""},
	{ImportExpand, []Param{pPtr, pLen}, []ValueType{I64}, ""},
	{ImportPgExec, []Param{pPtr, pLen}, []ValueType{I64}, CapPostgres},
	{ImportPgQuery, []Param{pPtr, pLen}, []ValueType{I64}, CapPostgres},
	{ImportPgBegin, nil, []ValueType{I64}, CapPostgres},
	{ImportPgCommit, []Param{pTx}, []ValueType{I64}, CapPostgres},
	{ImportPgRollback, []Param{pTx}, []ValueType{I64}, CapPostgres},
	{ImportPgCopyFrom, []Param{pPtr, pLen}, []ValueType{I64}, CapPostgres},
	{ImportPgCopyData, []Param{pPtr, pLen}, []ValueType{I64}, CapPostgres},
	{ImportPgCopyEnd, nil, []ValueType{I64}, CapPostgres},
	{ImportPgCopyTo, []Param{pPtr, pLen}, []ValueType{I64}, CapPostgres},
	{ImportSQLExec, []Param{pPtr, pLen}, []ValueType{I64}, CapSQL},
	{ImportSQLQuery, []Param{pPtr, pLen}, []ValueType{I64}, CapSQL},
	{ImportSQLBegin, nil, []ValueType{I64}, CapSQL},
	{ImportSQLCommit, []Param{pTx}, []ValueType{I64}, CapSQL},
	{ImportSQLRollback, []Param{pTx}, []ValueType{I64}, CapSQL},
	{ImportSQLLoad, []Param{pPtr, pLen}, []ValueType{I64}, CapSQL},
	{ImportSQLLoadData, []Param{pPtr, pLen}, []ValueType{I64}, CapSQL},
	{ImportSQLLoadEnd, nil, []ValueType{I64}, CapSQL},
	{ImportCodecOpen, []Param{pPtr, pLen}, []ValueType{I64}, CapCodec},
	{ImportCodecWrite, []Param{pH, pPtr, pLen}, []ValueType{I64}, CapCodec},
	{ImportCodecRead, []Param{pH, pPtr, pCap}, []ValueType{I64}, CapCodec},
	{ImportCodecFinish, []Param{pH}, []ValueType{I64}, CapCodec},
	{ImportCodecClose, []Param{pH}, []ValueType{I64}, CapCodec},
	{ImportCodecDecode, []Param{pPtr, pLen, {"data", I32}, {"data_len", I32}}, []ValueType{I64}, CapCodec},
	{ImportHTTPOpen, []Param{pPtr, pLen}, []ValueType{I64}, CapHTTP},
	{ImportHTTPWrite, []Param{pH, pPtr, pLen}, []ValueType{I64}, CapHTTP},
	{ImportHTTPSend, []Param{pH}, []ValueType{I64}, CapHTTP},
	{ImportHTTPRead, []Param{pH, pPtr, pCap}, []ValueType{I64}, CapHTTP},
	{ImportHTTPClose, []Param{pH}, []ValueType{I64}, CapHTTP},
}

// Imports returns every host function of this ABI version: the one table
// the host's dispatch and checks, `wasmdest inspect` and the guest SDK's
// documentation agree with. The returned slice is the caller's; the
// Params and Results of its elements are shared and must not be modified.
func Imports() []Import {
	out := make([]Import, len(imports))
	copy(out, imports)
	return out
}

// LookupImport returns the host function named name.
func LookupImport(name string) (Import, bool) {
	for _, i := range imports {
		if i.Name == name {
			return i, true
		}
	}
	return Import{}, false
}
