package line

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// replacement is what Sanitize puts in place of invalid UTF-8 and control
// characters: U+FFFD, encoded.
const replacement = "\uFFFD"

// Clean reports whether b is valid UTF-8 free of control characters (C0 other
// than tab, DEL and C1), that is, whether Sanitize would return it unchanged.
// The check is allocation-free, so hot paths call it first.
func Clean(b []byte) bool {
	for i := printablePrefix(b); i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || (r >= 0x80 && r <= 0x9f) {
			return false
		}
		i += size
	}
	return true
}

// Sanitize appends src to dst with every invalid UTF-8 sequence and every
// control character except tab replaced by U+FFFD. It is what keeps a user
// from injecting terminal escape sequences (ESC is a C0 control) into other
// users' terminals, and what keeps JSON encoders happy.
func Sanitize(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				dst = append(dst, replacement...)
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 || (r >= 0x80 && r <= 0x9f) {
			dst = append(dst, replacement...)
		} else {
			dst = append(dst, src[i:i+size]...)
		}
		i += size
	}
	return dst
}

// SanitizeString is Sanitize for strings; it returns s itself when s is
// already clean, so it allocates only for dirty input.
func SanitizeString(s string) string {
	if Clean(stringBytes(s)) {
		return s
	}
	return string(Sanitize(make([]byte, 0, len(s)+8), []byte(s)))
}

// printablePrefix returns the length of the leading run of b made of plain
// printable ASCII (0x20 to 0x7e), examined eight bytes at a time; the rest
// needs the careful loop. Most chat and machine text is entirely such
// bytes, so Clean costs a fraction of a nanosecond per byte.
func printablePrefix(b []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		below := (w - 0x20*ones) & ^w // a high bit for each byte < 0x20 (given no high bits)
		del := w ^ 0x7f*ones
		isDel := (del - ones) & ^del // a high bit for each 0x7f byte
		if (w|below|isDel)&highs != 0 {
			break
		}
	}
	return i
}

// stringBytes views s as bytes without copying; the result must not be
// modified.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Clip returns untrusted input to echo back in an error: sanitized, and
// cut to at most max bytes at a character boundary (with "..." when cut),
// so valid UTF-8 such as "élan" is echoed as it is and only invalid bytes
// and control characters become U+FFFD.
func Clip(b []byte, max int) string {
	if len(b) <= max {
		return string(Sanitize(nil, b))
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(Sanitize(nil, b[:cut])) + "..."
}
