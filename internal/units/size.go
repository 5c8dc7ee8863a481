// Package units parses and prints byte sizes with units ("64KiB", "1MiB",
// "1MB", "512"), and binds them to flags: the one place where a size given
// on the command line, in the environment or in the config file is read.
package units

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// SizeForm describes the accepted size syntax; errors end with it so that
// every source (flag, environment, config file) names the same forms.
const SizeForm = "a size such as 65536, 64KiB or 1MiB"

// ErrSize is wrapped by every size parse error.
var ErrSize = errors.New("want " + SizeForm)

// Size suffixes, longest first within each family so that "KiB" is not
// read as "K" + "iB". Binary suffixes (KiB, MiB, GiB) are powers of 1024,
// decimal ones (KB, MB, GB) powers of 1000; B is one byte. Matching is
// case-insensitive.
var suffixes = []struct {
	name string
	mul  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// ParseSize parses a non-negative byte count: a plain integer ("512"), or
// an integer followed by a unit — B, KiB, MiB, GiB (×1024) or KB, MB, GB
// (×1000), in any case, with an optional space ("64KiB", "1 MiB", "1MB").
// Fractions, signs and overflows are errors wrapping ErrSize.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, ErrSize
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, ErrSize
	}
	unit := strings.TrimSpace(t[i:])
	if unit == "" {
		return n, nil
	}
	for _, sf := range suffixes {
		if strings.EqualFold(unit, sf.name) {
			if n > math.MaxInt64/sf.mul {
				return 0, ErrSize
			}
			return n * sf.mul, nil
		}
	}
	return 0, ErrSize
}

// FormatSize prints n in the largest binary unit that divides it exactly
// ("1MiB", "64KiB", "1500"), so that ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	for _, sf := range []struct {
		name string
		mul  int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%sf.mul == 0 {
			return strconv.FormatInt(n/sf.mul, 10) + sf.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// Size is a flag.Value for a byte count held in an int or int64 field.
// The zero Size is not usable; make one with NewSize.
type Size[T ~int | ~int64] struct{ p *T }

// NewSize returns a Size that reads and writes *p.
func NewSize[T ~int | ~int64](p *T) Size[T] { return Size[T]{p: p} }

// String implements flag.Value.
func (s Size[T]) String() string {
	if s.p == nil {
		return "0"
	}
	return FormatSize(int64(*s.p))
}

// TypeName names the value's type in usage texts.
func (Size[T]) TypeName() string { return "size" }

// Set implements flag.Value.
func (s Size[T]) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return ErrSize // too big for the field (an int on 32-bit)
	}
	*s.p = T(n)
	return nil
}
