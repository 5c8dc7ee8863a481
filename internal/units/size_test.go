package units

import (
	"errors"
	"flag"
	"math"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "16384", want: 16384},
		{in: "64KiB", want: 64 << 10},
		{in: "64kib", want: 64 << 10},
		{in: "1MiB", want: 1 << 20},
		{in: "1 MiB", want: 1 << 20},
		{in: " 2GiB ", want: 2 << 30},
		{in: "1MB", want: 1_000_000},
		{in: "64KB", want: 64_000},
		{in: "3GB", want: 3_000_000_000},
		{in: "100B", want: 100},
		{in: "12XB", bad: true},
		{in: "", bad: true},
		{in: "MiB", bad: true},
		{in: "-1", bad: true},
		{in: "+5", bad: true},
		{in: "1.5MiB", bad: true},
		{in: "1 M iB", bad: true},
		{in: "0x10", bad: true},
		{in: "9223372036854775807", want: math.MaxInt64},
		{in: "9223372036854775808", bad: true},
		{in: "9223372036854775807KiB", bad: true},
		{in: "8589934592GiB", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrSize) {
				t.Errorf("ParseSize(%q) = %d, %v; want ErrSize", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 512: "512", 1024: "1KiB", 4096: "4KiB", 65536: "64KiB",
		1 << 20: "1MiB", 3 << 30: "3GiB", 1500: "1500", 1_000_000: "1000000",
	} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSizeFlag binds a Size to an int and an int64 flag.
func TestSizeFlag(t *testing.T) {
	var a int
	var b int64 = 1 << 20
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(NewSize(&a), "a", "")
	fs.Var(NewSize(&b), "b", "")
	if d := fs.Lookup("b").DefValue; d != "1MiB" {
		t.Errorf("default shown as %q, want 1MiB", d)
	}
	if err := fs.Parse([]string{"--a", "64KiB", "--b", "1MB"}); err != nil {
		t.Fatal(err)
	}
	if a != 64<<10 || b != 1_000_000 {
		t.Errorf("a = %d, b = %d", a, b)
	}
	if err := NewSize(&a).Set("12XB"); !errors.Is(err, ErrSize) || a != 64<<10 {
		t.Errorf("bad value: err %v, a changed to %d", err, a)
	}
}

// FuzzParseSize checks that ParseSize never panics, never returns a
// negative size, and that what it accepts prints back to the same value.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512", "64KiB", "1MiB", "1 MB", "12XB", "-1", "9223372036854775807", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("round trip of %d via %q: %d, %v", n, FormatSize(n), back, err)
		}
	})
}
