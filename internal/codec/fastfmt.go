package codec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/wasmdest/wasmdest/abi/arrowtypes"
)

// Fast paths for the values every CloudQuery table has (_cq_id, a UUID, and
// _cq_sync_time, a UTC timestamp): formatting them through time.Format and
// uuid.String costs several microseconds each in a WebAssembly guest. They
// write exactly what arrow-go writes (fastfmt_test.go compares them).

// appendUTC appends the UTC instant v (in unit) as RFC 3339 with trailing
// zeros of the fraction trimmed, as time.Format with
// "2006-01-02T15:04:05.999999999Z07:00" does, with sep between date and
// time. It returns false, appending nothing, for years outside 0..9999.
func appendUTC(dst []byte, v int64, unit arrow.TimeUnit, sep byte) ([]byte, bool) {
	per := int64(unit.Multiplier()) // nanoseconds per unit
	perSec := int64(1e9) / per
	sec, frac := v/perSec, v%perSec
	if frac < 0 {
		sec--
		frac += perSec
	}
	nsec := frac * per
	days, secOfDay := sec/86400, sec%86400
	if secOfDay < 0 {
		days--
		secOfDay += 86400
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return dst, false
	}
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, sep)
	dst = append2(dst, secOfDay/3600)
	dst = append(dst, ':')
	dst = append2(dst, secOfDay/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secOfDay%60)
	if nsec != 0 {
		var digits [9]byte
		for i := 8; i >= 0; i-- {
			digits[i] = byte('0' + nsec%10)
			nsec /= 10
		}
		n := 9
		for digits[n-1] == '0' {
			n--
		}
		dst = append(dst, '.')
		dst = append(dst, digits[:n]...)
	}
	return append(dst, 'Z'), true
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's civil_from_days).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// utcTimestamps returns the values of a timestamp array in UTC, or nil
// when the array is not a timestamp array with time zone "UTC".
func utcTimestamps(arr arrow.Array) (*array.Timestamp, arrow.TimeUnit) {
	a, ok := arr.(*array.Timestamp)
	if !ok {
		return nil, 0
	}
	t := a.DataType().(*arrow.TimestampType)
	if t.TimeZone != "UTC" {
		return nil, 0
	}
	return a, t.Unit
}

// uuidBytes returns a function giving the 16 bytes of element i of a UUID
// array (CloudQuery's "uuid" or "arrow.uuid"), or nil for other arrays.
func uuidBytes(arr arrow.Array) func(int) []byte {
	ext, ok := arr.(array.ExtensionArray)
	if !ok || !arrowtypes.IsUUID(arr.DataType()) {
		return nil
	}
	fsb, ok := ext.Storage().(*array.FixedSizeBinary)
	if !ok {
		return nil
	}
	return fsb.Value
}

// appendUUID appends 16 bytes in the canonical 8-4-4-4-12 hex form.
func appendUUID(dst, b []byte) []byte {
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}
