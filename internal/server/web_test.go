package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/server"
)

// startWeb starts a server with the web door on loopback ports.
func startWeb(t *testing.T, web webfront.Config, mods ...func(*server.Config)) (*server.Server, chan error) {
	t.Helper()
	web.Addr = "127.0.0.1:0"
	cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, Web: web, ShutdownTimeout: 5 * time.Second}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		select {
		case <-done:
		case <-ctx.Done():
			t.Error("Serve did not return")
		}
	})
	return srv, done
}

func TestWebDoorOff(t *testing.T) {
	t.Parallel()
	srv, err := server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if a := srv.HTTPAddr(); a != "" {
		t.Fatalf("HTTPAddr() = %q with the web door off", a)
	}
	go func() { _ = srv.Serve(context.Background()) }()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWebDoorAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, Web: webfront.Config{Addr: ln.Addr().String()}}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "web door") {
		t.Fatalf("New on a busy address: %v, want a web door error", err)
	}
}

// TestWebDoorConfig checks that the web door's config reaches the door
// (tokens, the body limit) and the metrics config the collector it serves
// (the cluster status of /api/stats).
func TestWebDoorConfig(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{MaxBody: 16}, func(c *server.Config) {
		c.Auth.PublishToken = "tok"
		c.Metrics.ClusterStatus = func() any { return map[string]string{"state": "single"} }
	})
	base := "http://" + srv.HTTPAddr()
	publish := func(body, tok string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/pub/t", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		body, tok string
		want      int
	}{{"hi", "", 401}, {"hi", "bad", 401}, {"hi", "tok", 202}, {strings.Repeat("x", 17), "tok", 413}} {
		if got := publish(tc.body, tc.tok); got != tc.want {
			t.Errorf("publish %q with token %q: %d, want %d", tc.body, tc.tok, got, tc.want)
		}
	}
	resp, err := http.Get(base + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Cluster map[string]string `json:"cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Cluster["state"] != "single" {
		t.Fatalf("cluster status in /api/stats: %v %v", st, err)
	}
}

// TestWebDoorShutdownDrainsStreams checks that Shutdown tells an open SSE
// stream and ends it cleanly, and that Serve and Shutdown return.
func TestWebDoorShutdownDrainsStreams(t *testing.T) {
	t.Parallel()
	srv, done := startWeb(t, webfront.Config{})
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/sse?topic=news")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	// The stream opens with an info event naming its nick, then the
	// subscription comment.
	for i := 0; ; i++ {
		l, err := r.ReadString('\n')
		if err != nil || i == 10 {
			t.Fatalf("no subscription comment; last line %q, %v", l, err)
		}
		if l == ": subscribed news\n" {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("stream not ended cleanly: %v (got %q)", err, rest)
	}
	if !strings.Contains(string(rest), `"final":"shutdown"`) {
		t.Fatalf("no shutdown notice in %q", rest)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
		done <- nil
	case <-ctx.Done():
		t.Fatal("Serve did not return")
	}
}
