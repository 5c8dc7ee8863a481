package frames

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRegisterSharesByName(t *testing.T) {
	ft := NewFormats()
	a, err := ft.Register("line")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ft.Register("json")
	a2, _ := ft.Register("line")
	if a != a2 {
		t.Fatal("the same name gave two formats")
	}
	if a == b || a.slot == b.slot {
		t.Fatal("two names share a slot")
	}
	if a.Name() != "line" {
		t.Fatalf("name %q", a.Name())
	}
}

func TestRegisterFull(t *testing.T) {
	ft := NewFormats()
	for i := range Slots {
		if _, err := ft.Register(fmt.Sprint("f", i)); err != nil {
			t.Fatalf("format %d: %v", i, err)
		}
	}
	if _, err := ft.Register("one-too-many"); err == nil {
		t.Fatal("registered more formats than there are slots")
	}
	if _, err := ft.Register("f0"); err != nil {
		t.Fatalf("a known name must still resolve: %v", err)
	}
}

// TestGetEncodesOnce checks that concurrent readers of one slot share one
// encoding, that every reader gets the right bytes, and that slots do not
// mix.
func TestGetEncodesOnce(t *testing.T) {
	ft := NewFormats()
	upper, _ := ft.Register("upper")
	lower, _ := ft.Register("lower")
	var c Cache
	var calls atomic.Int32
	enc := func(s string) []byte { calls.Add(1); return []byte("<" + s + ">") }
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if got := string(Get(&c, upper, "A", enc)); got != "<A>" {
					t.Errorf("upper slot: %q", got)
				}
			}
		}()
	}
	wg.Wait()
	// Racing first callers may each encode a private copy; later calls
	// are served from the slot.
	first := calls.Load()
	if first < 1 || first > 8 {
		t.Fatalf("%d encodings for 8 concurrent readers", first)
	}
	if got := string(Get(&c, upper, "A", enc)); got != "<A>" || calls.Load() != first {
		t.Fatalf("cached read encoded again (%d calls) or changed: %q", calls.Load(), got)
	}
	if got := string(Get(&c, lower, "b", enc)); got != "<b>" {
		t.Fatalf("second slot: %q", got)
	}
}

// TestGetSlotsIndependent fills every slot of one cache from concurrent
// goroutines: the slots share one state word, and no slot may see another
// slot's bytes or lose its own.
func TestGetSlotsIndependent(t *testing.T) {
	ft := NewFormats()
	var fs []*Format
	for i := range Slots {
		f, _ := ft.Register(fmt.Sprint("f", i))
		fs = append(fs, f)
	}
	for range 200 {
		var c Cache
		var wg sync.WaitGroup
		for i, f := range fs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := fmt.Sprint(i)
				for range 3 {
					if got := string(Get(&c, f, i, func(i int) []byte { return []byte(fmt.Sprint(i)) })); got != want {
						t.Errorf("slot %d gave %q", i, got)
					}
				}
			}()
		}
		wg.Wait()
		for i, f := range fs {
			if got := string(Get(&c, f, -1, func(int) []byte { return []byte("encoded again") })); got != fmt.Sprint(i) {
				t.Fatalf("slot %d not kept: %q", i, got)
			}
		}
	}
}
