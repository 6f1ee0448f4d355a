package serve

import (
	"encoding/base64"
	"strings"
)

// encodeLocation makes a location safe in a sync handle.
func encodeLocation(loc string) string { return base64.RawURLEncoding.EncodeToString([]byte(loc)) }

// handleLocation returns the location a handle carries, or "".
func handleLocation(handle string) string {
	_, enc, ok := strings.Cut(handle, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ""
	}
	return string(b)
}
