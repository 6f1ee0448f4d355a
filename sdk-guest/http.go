package sdk

import (
	"io"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// The http capability (abi.CapHTTP, ABI 1.4): outbound HTTP under the
// host's control, as package core has it. The host allows only the origins
// the destination's configuration lists, adds the credentials itself (the
// guest never sees them) and retries where it may. A guest using it lists
// abi.CapHTTP in its manifest. Requests never outlive the operation that
// opened them.

// HTTPRequest is one HTTP request being sent through the host, opened with
// HTTPOpen. Write its body (if any), Send it, read the response's Body,
// and Close it. It is not safe for concurrent use.
type HTTPRequest = core.HTTPRequest

// HTTPResponse is the response to an HTTPRequest.
type HTTPResponse = core.HTTPResponse

// HTTPOpen opens req: the host checks its URL against the allowlist (a
// refused origin is an error here, before any connection) and returns the
// request, whose body the guest then writes.
func HTTPOpen(req abi.HTTPRequest) (*HTTPRequest, error) { return core.HTTPOpen(req) }

// HTTPDo sends req with body (nil: none) and returns the response with its
// whole body read, up to maxBody bytes (more is an error; 0 means 1 MiB).
// For small requests and responses; stream large ones with HTTPOpen.
func HTTPDo(req abi.HTTPRequest, body io.Reader, maxBody int64) (*HTTPResponse, []byte, error) {
	return core.HTTPDo(req, body, maxBody)
}
