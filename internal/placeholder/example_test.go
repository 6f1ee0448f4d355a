package placeholder_test

import (
	"fmt"
	"time"

	"github.com/wasmdest/wasmdest/internal/placeholder"
)

func ExampleExpand() {
	v := placeholder.Vars{
		Time:    time.Date(2026, 1, 9, 5, 7, 0, 0, time.UTC),
		Table:   "aws_s3_buckets",
		Format:  "json.gz",
		NewUUID: func() string { return "0b5e6e4a" },
	}
	p, err := placeholder.Expand("out/{{TABLE_HYPHEN}}/{{YEAR}}/{{MONTH}}/{{DAY}}/{{UUID}}.{{FORMAT}}", v)
	fmt.Println(p, err)
	_, err = placeholder.Expand("{{TABEL}}.json", v)
	fmt.Println(err)
	fmt.Println(placeholder.Uses("{{TABLE}}/{{UUID}}", "UUID"))
	// Output:
	// out/aws-s3-buckets/2026/01/09/0b5e6e4a.json.gz <nil>
	// placeholder: unknown placeholder {{TABEL}} in "{{TABEL}}.json"; known placeholders: {{SYNC_ID}} {{YEAR}} {{MONTH}} {{DAY}} {{HOUR}} {{MINUTE}} {{TABLE}} {{TABLE_HYPHEN}} {{FORMAT}} {{UUID}}
	// true
}
