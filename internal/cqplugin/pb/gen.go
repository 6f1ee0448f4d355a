// Package pb is the generated Go of CloudQuery's plugin protocol v3
// (plugin.proto) and its discovery service (discovery.proto), the messages
// internal/cqplugin serves. Regenerate with `go generate` after installing
// protoc (Debian's protobuf-compiler) and, from the Go module proxy,
// protoc-gen-go (the version of google.golang.org/protobuf in go.mod) and
// protoc-gen-go-grpc.
package pb

//go:generate protoc -I. -I/usr/include --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto discovery.proto
