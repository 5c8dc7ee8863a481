package line

import (
	"unicode/utf8"
)

// replacement is what Sanitize puts in place of invalid UTF-8 and control
// characters: U+FFFD, encoded.
const replacement = "\uFFFD"

// Clean reports whether b is valid UTF-8 free of control characters (C0 other
// than tab, DEL and C1), that is, whether Sanitize would return it unchanged.
// The check is allocation-free, so hot paths call it first.
func Clean(b []byte) bool {
	for i := 0; i < len(b); {
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
	if cleanString(s) {
		return s
	}
	return string(Sanitize(make([]byte, 0, len(s)+8), []byte(s)))
}

// cleanString is Clean for strings, without converting.
func cleanString(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || (r >= 0x80 && r <= 0x9f) {
			return false
		}
		i += size
	}
	return true
}
