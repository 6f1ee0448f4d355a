package codec

// Internals the external tests (package codec_test, which imports the
// reference table of host/conformance, itself importing this package
// through the codec capability) reach.
var (
	AppendAny    = appendAny
	CSVCells     = csvCells
	FastCells    = fastCells
	IsList       = isList
	NewCSVWriter = newCSVWriter
	NewEncoder   = newEncoder
	ValueEncoder = valueEncoder
)
