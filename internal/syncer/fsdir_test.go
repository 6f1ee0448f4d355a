package syncer

import "testing"

func TestPathDirectory(t *testing.T) {
	for _, c := range []struct {
		in, dir, rel string
		ok, err      bool
	}{
		{"/data/out/{{TABLE}}/{{UUID}}.{{FORMAT}}", "/data/out", "/{{TABLE}}/{{UUID}}.{{FORMAT}}", true, false},
		{"/data/out/users.json", "/data/out", "/users.json", true, false},
		{"/data/{{YEAR}}/x/{{TABLE}}.csv", "/data", "/{{YEAR}}/x/{{TABLE}}.csv", true, false},
		{"/{{TABLE}}.json", "", "", false, true},
		{"/data/../etc/{{TABLE}}", "/data", "/../etc/{{TABLE}}", true, false},
		{"out/{{TABLE}}.json", "", "", false, false},
	} {
		dir, rel, ok, err := pathDirectory(c.in)
		if dir != c.dir || rel != c.rel || ok != c.ok || (err != nil) != c.err {
			t.Errorf("%q: got %q %q %v %v", c.in, dir, rel, ok, err)
		}
	}
}
