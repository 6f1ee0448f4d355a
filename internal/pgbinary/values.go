package pgbinary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Conversions between Arrow values and PostgreSQL's binary forms of numeric,
// date, time, timestamp, interval, inet and macaddr, shared by the COPY
// encoder and decoder.

const (
	// pgEpochDays is 2000-01-01, PostgreSQL's epoch, in days since 1970-01-01.
	pgEpochDays = 10957
	// pgEpochMicros is the same in microseconds.
	pgEpochMicros = pgEpochDays * 86400 * 1000000
	// Valid PostgreSQL timestamps, in microseconds since 2000-01-01:
	// 4714-11-24 BC to before 294277-01-01 AD (MIN_TIMESTAMP, END_TIMESTAMP).
	minTimestamp = -211813488000000000
	endTimestamp = 9223371331200000000
	// Valid dates, in days since 2000-01-01 (DATETIME_MIN_JULIAN..DATE_END_JULIAN).
	minDate = -2451545
	endDate = 2145031949
	// microsPerDay bounds time (24:00:00 is valid).
	microsPerDay = 86400 * 1000000
)

var errOutOfRange = errors.New("out of PostgreSQL's range")

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// toMicros converts v in units of 10^-exp seconds (exp 0, 3, 6, 9) to
// microseconds, rounding nanoseconds down, and reports overflow.
func toMicros(v int64, exp int) (int64, bool) {
	switch exp {
	case 0:
		if v > (1<<63-1)/1000000 || v < -(1<<63)/1000000 {
			return 0, false
		}
		return v * 1000000, true
	case 3:
		if v > (1<<63-1)/1000 || v < -(1<<63)/1000 {
			return 0, false
		}
		return v * 1000, true
	case 6:
		return v, true
	}
	return floorDiv(v, 1000), true
}

// fromMicros converts microseconds to units of 10^-exp seconds, rounding
// down where the unit is coarser, and reports overflow.
func fromMicros(us int64, exp int) (int64, bool) {
	switch exp {
	case 0:
		return floorDiv(us, 1000000), true
	case 3:
		return floorDiv(us, 1000), true
	case 6:
		return us, true
	}
	if us > (1<<63-1)/1000 || us < -(1<<63)/1000 {
		return 0, false
	}
	return us * 1000, true
}

// timestampMicros converts an Arrow timestamp to PostgreSQL's: microseconds
// since 2000-01-01.
func timestampMicros(v int64, exp int) (int64, error) {
	us, ok := toMicros(v, exp)
	if !ok || us < minTimestamp+pgEpochMicros || us-pgEpochMicros >= endTimestamp {
		return 0, fmt.Errorf("timestamp %d (10^-%d s since 1970) is %w (4713 BC to 294276 AD)", v, exp, errOutOfRange)
	}
	return us - pgEpochMicros, nil
}

// pgDate converts days since 1970 to PostgreSQL's days since 2000.
func pgDate(days int64) (int32, error) {
	d := days - pgEpochDays
	if d < minDate || d >= endDate {
		return 0, fmt.Errorf("date %d (days since 1970) is %w (4713 BC to 5874897 AD)", days, errOutOfRange)
	}
	return int32(d), nil
}

// appendNumeric appends PostgreSQL's binary numeric for the number whose
// absolute unscaled value has the decimal digits digits ("" or only zeros
// for zero), negative if neg, times 10^-scale. The display scale is scale
// (0 when negative).
func appendNumeric(dst []byte, neg bool, digits []byte, scale int32) []byte {
	dscale := max(scale, 0)
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return binary.BigEndian.AppendUint64(dst, uint64(dscale)) // ndigits 0, weight 0, sign +
	}
	// Digit k has exponent intLen-1-k; base-10000 group g holds the
	// exponents 4g..4g+3.
	intLen := int64(len(digits)) - int64(scale)
	gmax := floorDiv(intLen-1, 4)
	gmin := floorDiv(-int64(scale), 4)
	groups := make([]int16, gmax-gmin+1)
	for k, d := range digits {
		e := intLen - 1 - int64(k)
		g := floorDiv(e, 4)
		groups[gmax-g] += int16(d-'0') * pow10[e-4*g]
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	weight := gmax
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	sign := uint16(0)
	if neg {
		sign = 0x4000
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(groups)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, uint16(dscale))
	for _, g := range groups {
		dst = binary.BigEndian.AppendUint16(dst, uint16(g))
	}
	return dst
}

var pow10 = [4]int16{1, 10, 100, 1000}

// numeric is a decoded PostgreSQL numeric: the absolute value's decimal
// digits, of which the last frac are after the decimal point.
type numeric struct {
	neg    bool
	digits []byte
	frac   int
}

// parseNumeric decodes PostgreSQL's binary numeric. NaN and infinities are
// errors: no Arrow decimal or integer holds them.
func parseNumeric(b []byte) (numeric, error) {
	if len(b) < 8 {
		return numeric{}, errors.New("numeric: short value")
	}
	nd := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*nd {
		return numeric{}, errors.New("numeric: bad length")
	}
	switch sign {
	case 0, 0x4000:
	case 0xC000:
		return numeric{}, errors.New("numeric NaN has no Arrow form")
	default:
		return numeric{}, errors.New("numeric infinity has no Arrow form")
	}
	n := numeric{neg: sign == 0x4000, frac: dscale}
	// Digits from exponent 4*weight+3 down to -dscale.
	hi := 4*weight + 3
	if hi < 0 {
		hi = 0
	}
	for e := hi; e >= -dscale; e-- {
		g := floorDiv(int64(e), 4) // group weight
		idx := weight - int(g)
		d := 0
		if idx >= 0 && idx < nd {
			v := int(binary.BigEndian.Uint16(b[8+2*idx:]))
			d = v / int(pow10[e-4*int(g)]) % 10
		}
		n.digits = append(n.digits, byte('0'+d))
	}
	for len(n.digits) > n.frac+1 && n.digits[0] == '0' {
		n.digits = n.digits[1:]
	}
	return n, nil
}

// unscaled returns n times 10^scale as an integer's decimal digits, or an
// error when that would drop non-zero digits.
func (n numeric) unscaled(scale int32) ([]byte, error) {
	d := append([]byte{}, n.digits...)
	shift := int(scale) - n.frac
	if shift >= 0 {
		for ; shift > 0; shift-- {
			d = append(d, '0')
		}
		return d, nil
	}
	cut := len(d) + shift
	if cut < 0 {
		cut = 0
	}
	for _, c := range d[cut:] {
		if c != '0' {
			return nil, fmt.Errorf("numeric %s has more fractional digits than scale %d", n, scale)
		}
	}
	if cut == 0 {
		return []byte{'0'}, nil
	}
	return d[:cut], nil
}

func (n numeric) String() string {
	var b strings.Builder
	if n.neg {
		b.WriteByte('-')
	}
	ip := len(n.digits) - n.frac
	if ip <= 0 {
		b.WriteString("0")
	} else {
		b.Write(n.digits[:ip])
	}
	if n.frac > 0 {
		b.WriteByte('.')
		for i := ip; i < 0; i++ {
			b.WriteByte('0')
		}
		b.Write(n.digits[max(ip, 0):])
	}
	return b.String()
}

// bigOf parses decimal digits.
func bigOf(neg bool, digits []byte) *big.Int {
	v, _ := new(big.Int).SetString(string(digits), 10)
	if v == nil {
		v = new(big.Int)
	}
	if neg {
		v.Neg(v)
	}
	return v
}

// appendInterval appends PostgreSQL's binary interval.
func appendInterval(dst []byte, micros int64, days, months int32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(micros))
	dst = binary.BigEndian.AppendUint32(dst, uint32(days))
	return binary.BigEndian.AppendUint32(dst, uint32(months))
}

func parseInterval(b []byte) (micros int64, days, months int32, err error) {
	if len(b) != 16 {
		return 0, 0, 0, errors.New("interval: bad length")
	}
	return int64(binary.BigEndian.Uint64(b)), int32(binary.BigEndian.Uint32(b[8:])), int32(binary.BigEndian.Uint32(b[12:])), nil
}

// PostgreSQL's address families in inet's binary form (PGSQL_AF_INET/INET6).
const (
	pgAFInet  = 2
	pgAFInet6 = 3
)

// appendInet parses an address ("192.168.0.1", "10.0.0.0/8", "::1/128") and
// appends PostgreSQL's binary inet. Host bits are kept, as inet does.
func appendInet(dst []byte, s string) ([]byte, error) {
	var p netip.Prefix
	if strings.IndexByte(s, '/') >= 0 {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return dst, fmt.Errorf("%q is not an IP address with a prefix length", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return dst, fmt.Errorf("%q is not an IP address", s)
		}
		if a.Zone() != "" {
			return dst, fmt.Errorf("%q: PostgreSQL's inet has no zones", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	if a.Is4() {
		dst = append(dst, pgAFInet, byte(p.Bits()), 0, 4)
		b := a.As4()
		return append(dst, b[:]...), nil
	}
	dst = append(dst, pgAFInet6, byte(p.Bits()), 0, 16)
	b := a.As16()
	return append(dst, b[:]...), nil
}

// inetText formats PostgreSQL's binary inet as PostgreSQL prints it: the
// address alone when the prefix covers it all, else address/bits.
func inetText(b []byte) (string, error) {
	if len(b) < 4 || len(b) != 4+int(b[3]) {
		return "", errors.New("inet: bad length")
	}
	var a netip.Addr
	switch {
	case b[0] == pgAFInet && b[3] == 4:
		a = netip.AddrFrom4([4]byte(b[4:8]))
	case b[0] == pgAFInet6 && b[3] == 16:
		a = netip.AddrFrom16([16]byte(b[4:20]))
	default:
		return "", errors.New("inet: bad address family")
	}
	if int(b[1]) == a.BitLen() {
		return a.String(), nil
	}
	return a.String() + "/" + strconv.Itoa(int(b[1])), nil
}

// appendMAC parses a 6-byte hardware address in any form net.ParseMAC
// takes and appends PostgreSQL's binary macaddr.
// appendMAC appends a "mac" value as PostgreSQL's binary macaddr. The value
// is CloudQuery's encoding, the address's raw bytes (6, 8 or 20 of them), or
// its text form (what wasmdest's ABI 1.0 documented): no text form of a
// hardware address is 6, 8 or 20 bytes long. An error leaves dst as it was.
func appendMAC(dst []byte, s string) ([]byte, error) {
	hw, err := ParseMAC([]byte(s))
	if err != nil {
		return dst, err
	}
	if len(hw) != 6 {
		return dst, fmt.Errorf("%s is a %d-byte hardware address; PostgreSQL's macaddr holds 6 bytes", hw, len(hw))
	}
	return append(dst, hw...), nil
}

// ParseMAC returns the hardware address of a "mac" value: raw bytes
// (CloudQuery's encoding) or text.
func ParseMAC(v []byte) (net.HardwareAddr, error) {
	switch len(v) {
	case 6, 8, 20:
		return net.HardwareAddr(v), nil
	}
	hw, err := net.ParseMAC(string(v))
	if err != nil {
		return nil, fmt.Errorf("%q is not a MAC address (neither 6, 8 or 20 raw bytes nor text)", v)
	}
	return hw, nil
}
