package numfmt

import (
	"math"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestInt(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", -1000: "-1,000", 100000: "100,000",
		15424000: "15,424,000", -999: "-999", math.MinInt64: "-9,223,372,036,854,775,808",
	} {
		if got := Int(n); got != want {
			t.Errorf("Int(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		prec int
		want string
	}{
		{1234567.891, 1, "1,234,567.9"},
		{999.96, 1, "1,000.0"},
		{0.5, 0, "0"},
		{-2048.4, 0, "-2,048"},
		{-0.04, 1, "0.0"},
		{12.3456, 3, "12.346"},
		{math.Inf(1), 1, "+Inf"},
		{1e30, 0, "1000000000000000019884624838656"},
	}
	for _, tt := range tests {
		if got := Float(tt.v, tt.prec); got != tt.want {
			t.Errorf("Float(%v, %d) = %q, want %q", tt.v, tt.prec, got, tt.want)
		}
	}
}

func TestUnits(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		Bytes(2769.4):   "2,769 B",
		Bytes(65638):    "65,638 B",
		MiB(75182080):   "71.7 MiB",
		MiB(3 << 30):    "3,072.0 MiB",
		Nanos(18400.2):  "18,400 ns",
		Seconds(0.1176): "0.118 s",
		Seconds(1234.5): "1,234.500 s",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
