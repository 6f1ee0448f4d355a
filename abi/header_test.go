package abi_test

import (
	"net/textproto"
	"testing"

	"github.com/wasmdest/wasmdest/abi"
)

// TestCanonicalHeaderKeyMatchesTextproto checks abi's own header
// canonicalisation against net/textproto's, which net/http uses.
func TestCanonicalHeaderKeyMatchesTextproto(t *testing.T) {
	for _, k := range []string{
		"", "a", "A", "-", "content-type", "Content-Type", "CONTENT-TYPE", "cOnTeNt-tYpE", "etag", "ETag",
		"x-amz-meta-foo", "X-Amz-Meta-Foo", "www-authenticate", "a--b", "-a-", "foo_bar", "foo.bar-baz",
		"x-1a-2b", "has space", "bad:colon", "ünïcode", "tab\tname", "!#$%&'*+-.^_`|~", "content-length ",
	} {
		if got, want := abi.CanonicalHeaderKey(k), textproto.CanonicalMIMEHeaderKey(k); got != want {
			t.Errorf("CanonicalHeaderKey(%q) = %q, net/textproto gives %q", k, got, want)
		}
	}
	h := abi.HTTPHeader{"Content-Type": {"text/csv"}}
	if got := h.Get("content-TYPE"); got != "text/csv" {
		t.Errorf("Get(content-TYPE) = %q, want text/csv", got)
	}
}
