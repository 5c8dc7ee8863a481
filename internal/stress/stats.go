package stress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ServerStats is what the server itself says a connection costs, from two
// readings of its /api/stats endpoint: before and after the clients
// connected.
type ServerStats struct {
	RSSBeforeBytes uint64 `json:"process_rss_bytes_before"`
	RSSAfterBytes  uint64 `json:"process_rss_bytes_after"`
	ConnsBefore    int64  `json:"connections_before"`
	ConnsAfter     int64  `json:"connections_after"`
	// BytesPerConn is (RSS after - before) / (connections after - before);
	// if the server does not report connections, the client's count is used.
	BytesPerConn float64 `json:"bytes_per_conn"`
	// ConnsSource says which connection count BytesPerConn divides by.
	ConnsSource string `json:"connections_source"`
}

// errNoStatsAddr is returned by statsClient.fetch when no --http was given.
var errNoStatsAddr = errors.New("stress: no --http address given")

// statsClient reads the server's /api/stats with its own transport, so that
// its one keep-alive connection is opened before the clients exhaust file
// descriptors and is closed at the end.
type statsClient struct {
	addr string
	tr   *http.Transport
	c    *http.Client
}

func newStatsClient(addr string) *statsClient {
	tr := &http.Transport{MaxIdleConns: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
	return &statsClient{addr: addr, tr: tr, c: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// fetch GETs /api/stats and decodes it as a JSON object.
func (s *statsClient) fetch(ctx context.Context) (map[string]any, error) {
	if s.addr == "" {
		return nil, errNoStatsAddr
	}
	url := "http://" + s.addr + "/api/stats"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %s", url, resp.Status)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", url, err)
	}
	return m, nil
}

func (s *statsClient) close() { s.tr.CloseIdleConnections() }

// number reads a numeric field; an object of numbers (e.g. connections per
// front end) counts as their sum.
func number(m map[string]any, key string) (float64, bool) {
	switch v := m[key].(type) {
	case float64:
		return v, true
	case map[string]any:
		sum, found := 0.0, false
		for _, x := range v {
			if f, ok := x.(float64); ok {
				sum, found = sum+f, true
			}
		}
		return sum, found
	}
	return 0, false
}

// serverFigures turns two /api/stats readings into ServerStats, or explains
// in a note why the figure is omitted.
func serverFigures(addr string, before map[string]any, errBefore error, after map[string]any, errAfter error, connected int) (*ServerStats, string) {
	if addr == "" {
		return nil, "no --http address given: server memory not measured"
	}
	if err := errors.Join(errBefore, errAfter); err != nil {
		return nil, "server /api/stats unavailable, figure omitted: " + err.Error()
	}
	rb, ok1 := number(before, "process_rss_bytes")
	ra, ok2 := number(after, "process_rss_bytes")
	if !ok1 || !ok2 {
		return nil, "server /api/stats has no process_rss_bytes field, figure omitted"
	}
	if rb <= 0 || ra <= 0 {
		return nil, fmt.Sprintf("server reported process_rss_bytes %.0f before and %.0f after (0 = unknown; a server out of file descriptors cannot read /proc), figure omitted", rb, ra)
	}
	st := &ServerStats{RSSBeforeBytes: uint64(rb), RSSAfterBytes: uint64(ra)}
	cb, ok1 := number(before, "connections")
	ca, ok2 := number(after, "connections")
	div := float64(connected)
	st.ConnsSource = "client count (server reports no connections field)"
	if ok1 && ok2 {
		st.ConnsBefore, st.ConnsAfter = int64(cb), int64(ca)
		if ca > cb {
			div = ca - cb
			st.ConnsSource = "/api/stats connections after - before"
		}
	}
	if div > 0 {
		st.BytesPerConn = (ra - rb) / div
	}
	return st, ""
}
