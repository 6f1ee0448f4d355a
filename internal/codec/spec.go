// Package codec encodes Arrow record batches as the file formats of the file
// destination (CSV, JSON Lines, Parquet, with their format_spec options and
// compression) and decodes those files back to their Arrow types: how every
// Arrow type maps to each format. It runs in the host, natively, behind the
// codec capability (host/capability/codec), so that guests keep the policy
// (names, rotation, temporary files) and the host does the CPU-heavy
// encoding. It has no filesystem access: it writes to an io.Writer.
package codec

import "github.com/wasmdest/wasmdest/internal/filespec"

// The spec types the codec encodes by, from package filespec (which guests
// import too: it parses and checks a spec without the encoders).
type (
	// Spec is filespec.Spec.
	Spec = filespec.Spec
	// Format is filespec.Format.
	Format = filespec.Format
	// Compression is filespec.Compression.
	Compression = filespec.Compression
	// CSVSpec is filespec.CSVSpec.
	CSVSpec = filespec.CSVSpec
	// ParquetSpec is filespec.ParquetSpec.
	ParquetSpec = filespec.ParquetSpec
)

// Formats and compressions, from package filespec.
const (
	CSV     = filespec.CSV
	JSON    = filespec.JSON
	Parquet = filespec.Parquet
	None    = filespec.None
	Gzip    = filespec.Gzip
	Zstd    = filespec.Zstd
)

// Parse is filespec.Parse.
func Parse(raw []byte) (Spec, error) { return filespec.Parse(raw) }
