package webfront

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hub/switchboard/internal/metrics"
)

// doorMetrics are the web door's own counters, registered on the server's
// metrics.Collector next to the hub, session and runtime metrics.
type doorMetrics struct {
	publishRequests *prometheus.CounterVec
	wsFrames        prometheus.Counter
	wsBadFrames     prometheus.Counter
}

// newDoorMetrics makes the door's counters and registers them on c.
func newDoorMetrics(c *metrics.Collector) (*doorMetrics, error) {
	m := &doorMetrics{
		publishRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "web", Name: "publish_requests_total",
			Help: "HTTP publish requests (POST /pub/{topic}) by status code.",
		}, []string{"code"}),
		wsFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "web", Name: "ws_frames_received_total",
			Help: "WebSocket data frames received from clients.",
		}),
		wsBadFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "switchboard", Subsystem: "web", Name: "ws_bad_frames_total",
			Help: "WebSocket frames refused as malformed (bad JSON, unknown op, missing field, binary).",
		}),
	}
	for _, code := range []string{"202", "400", "401", "413"} {
		m.publishRequests.WithLabelValues(code)
	}
	if err := c.Register(m.publishRequests, m.wsFrames, m.wsBadFrames); err != nil {
		return nil, fmt.Errorf("web door: %w", err)
	}
	return m, nil
}

// serveStats answers GET /api/stats (?history=1 adds the last minutes of
// samples) from the server's collector.
func (f *Front) serveStats(w http.ResponseWriter, r *http.Request) {
	history := r.URL.Query().Get("history")
	writeJSON(w, http.StatusOK, f.collector.Stats(history != "" && history != "0"))
}
