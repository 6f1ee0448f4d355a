package pgbinary

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"
)

// decimalString formats digits*10^-scale as a plain decimal, e.g. "-12.3400".
func decimalString(neg bool, digits string, scale int32) string {
	v, _ := new(big.Int).SetString(digits, 10)
	if v == nil {
		v = new(big.Int)
	}
	if scale < 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
		scale = 0
	}
	s := v.String()
	for len(s) <= int(scale) {
		s = "0" + s
	}
	if scale > 0 {
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	}
	if neg && v.Sign() != 0 {
		s = "-" + s
	}
	return s
}

func TestNumericRoundTrip(t *testing.T) {
	cases := []struct {
		neg    bool
		digits string
		scale  int32
	}{
		{false, "0", 0}, {false, "0", 5}, {true, "1", 0}, {false, "18446744073709551615", 0},
		{false, "1234567890123456789", 10}, {true, "9999999999999999999", 10}, {false, "1", 10},
		{false, "10000", 0}, {false, "100000000", 4}, {false, "123", -2}, {true, "5", -7},
		{false, "1", 1000}, {false, "00012", 3}, {false, "99990000", 8},
	}
	for _, c := range cases {
		b := appendNumeric(nil, c.neg, []byte(c.digits), c.scale)
		n, err := parseNumeric(b)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if got, want := n.String(), decimalString(c.neg, c.digits, c.scale); got != want {
			t.Errorf("%+v: round trip %s, want %s", c, got, want)
		}
	}
}

func FuzzNumeric(f *testing.F) {
	f.Add(false, "1234567890123456789", int16(10))
	f.Add(true, "0", int16(0))
	f.Add(false, "5", int16(-3))
	f.Fuzz(func(t *testing.T, neg bool, digits string, scale int16) {
		if digits == "" || len(digits) > 200 || strings.Trim(digits, "0123456789") != "" || scale > 300 || scale < -300 {
			return
		}
		b := appendNumeric(nil, neg, []byte(digits), int32(scale))
		n, err := parseNumeric(b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n.String(), decimalString(neg, digits, int32(scale)); got != want {
			t.Fatalf("round trip %s, want %s", got, want)
		}
		if scale >= 0 {
			u, err := n.unscaled(int32(scale))
			if err != nil {
				t.Fatal(err)
			}
			a, _ := new(big.Int).SetString(string(u), 10)
			w, _ := new(big.Int).SetString(digits, 10)
			if a.Cmp(w) != 0 {
				t.Fatalf("unscaled %s, want %s", u, digits)
			}
		}
	})
}

func TestSanitizeJSON(t *testing.T) {
	ok := map[string]string{
		`{"a": 1}`:                       `{"a": 1}`,
		` [1, "x", null, true, -0.5e3] `: ` [1, "x", null, true, -0.5e3] `,
		`"a\u0000b"`:                     `"ab"`,
		"\"raw\x00nul\"":                 `"rawnul"`,
		`{"k\u0000": "\\u0000"}`:         `{"k": "\\u0000"}`,
		`"\ud83d\ude00"`:                 `"\ud83d\ude00"`,
		`"ü☃"`:                           `"ü☃"`,
	}
	for in, want := range ok {
		got, err := SanitizeJSON(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("SanitizeJSON(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{``, ` `, `{`, `{"a" 1}`, `[1,]`, `01`, `1.`, `"\x01"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`,
		"\"\xff\"", `tru`, `{} {}`, `"\q"`, `"\u12"`, "\x00"} {
		if got, err := SanitizeJSON(nil, []byte(bad)); err == nil {
			t.Errorf("SanitizeJSON(%q) = %q, want an error", bad, got)
		}
	}
}

// hasNUL reports whether decoded JSON holds a NUL character in a string.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case []any:
		for _, e := range v {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

func FuzzSanitizeJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5e-3, "x\u0000y", {"b": null}]}`, `"\ud83d\ude00"`, "\"a\x00\"", `[]`, `{"\u0000": 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := SanitizeJSON([]byte("prefix"), in)
		if err != nil {
			clean := !bytes.Contains(in, []byte(`\u`)) && !bytes.ContainsRune(in, 0) && utf8.Valid(in)
			if clean && json.Valid(in) {
				t.Fatalf("valid JSON %q refused: %v", in, err)
			}
			return
		}
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatal("dst not kept")
		}
		out = out[len("prefix"):]
		if !json.Valid(out) {
			t.Fatalf("output %q of %q is not valid JSON", out, in)
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(out))
		d.UseNumber() // 1E700 is valid JSON but no float64
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if hasNUL(v) {
			t.Fatalf("output %q still holds NUL", out)
		}
		if !bytes.Contains(in, []byte(`\u0000`)) && !bytes.ContainsRune(in, 0) && !bytes.Equal(in, out) {
			t.Fatalf("%q changed to %q", in, out)
		}
	})
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"plain", "quote\" back\\ \n\t\x01\x00 ü☃", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := appendJSONString(nil, s)
		if !utf8.ValidString(s) {
			if err == nil {
				t.Fatalf("invalid UTF-8 %q accepted", s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if want := strings.ReplaceAll(s, "\x00", ""); got != want {
			t.Fatalf("round trip %q, want %q", got, want)
		}
		if _, err := SanitizeJSON(nil, out); err != nil {
			t.Fatalf("our own output %q: %v", out, err)
		}
	})
}

func FuzzAppendText(f *testing.F) {
	f.Add("a\x00b")
	f.Add("\xc3\x28")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := appendText(nil, s)
		if utf8.ValidString(s) != (err == nil) {
			t.Fatalf("%q: error %v", s, err)
		}
		if err == nil && string(out) != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("%q became %q", s, out)
		}
	})
}
