package codec

// Decode is decode, for the external tests (they import host/conformance,
// which imports this package).
var Decode = decode
