package bench

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestTableSeparatesThousands: the human table prints counts and rates
// with thousands separators (15,424,000), as stress does.
func TestTableSeparatesThousands(t *testing.T) {
	t.Parallel()
	cpu, rss := 2.2, int64(75182080)
	per := 7012345.6
	rep := fanoutReport{Scenario: "fanout", Target: "tcp://127.0.0.1:8082", Server: "switchboard", Subscribers: 1000, Publishers: 1,
		PayloadBytes: 64, Window: 64, MaxInflight: 64000, Published: 15424, Expected: 15424000, Delivered: 15424000,
		PublishSeconds: 2, ElapsedSeconds: 2.1, PublishedPerS: 7712, DeliveredPerS: 7344761.9,
		serverFigures: serverFigures{ServerPID: 4242, ServerCPUSeconds: &cpu, ServerRSSBytes: &rss}, DeliveriesPerCPUSec: &per}
	var b bytes.Buffer
	if err := writeReport(&b, false, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"15,424,000", "1,000 x 1", "7,344,762", "7,012,346", "64,000 in flight", "4242"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "server pid") {
			continue // an identifier, not a count
		}
		if m := regexp.MustCompile(`(^|[^.\d,:])\d{4,}`).FindString(l); m != "" {
			t.Errorf("unseparated number %q in %q", m, l)
		}
	}
}
