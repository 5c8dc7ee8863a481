package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// TestShutdownIsBoundedWhateverClientsDo checks that --shutdown-timeout is
// a hard bound: with an HTTP publish whose body arrives a byte at a time
// and a TCP client that never stops sending commands, Shutdown still
// returns within the timeout plus a second.
func TestShutdownIsBoundedWhateverClientsDo(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	srv, err := server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, Web: webfront.Config{Addr: "127.0.0.1:0"}, ShutdownTimeout: timeout}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()

	stop := make(chan struct{})
	var clients sync.WaitGroup
	defer func() {
		close(stop)
		clients.Wait()
	}()
	var trickled, flooded atomic.Int64
	// A POST /pub whose body comes a byte every 50 ms, for up to 15 s.
	clients.Add(1)
	go func() {
		defer clients.Done()
		c, err := net.Dial("tcp", srv.HTTPAddr())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /pub/slow HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n", srv.HTTPAddr())
		for range 300 {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			trickled.Add(1)
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	// A TCP client that joins many rooms, then sends commands that list
	// them as fast as it can (so the server works much harder per byte
	// than the client and always has input waiting) and never reads, for
	// up to 15 s.
	clients.Add(1)
	go func() {
		defer clients.Done()
		c, err := net.Dial("tcp", srv.TCPAddr())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		var joins []byte
		for i := range 2000 {
			joins = fmt.Appendf(joins, "/join room.%d\n", i)
		}
		if _, err := c.Write(joins); err != nil {
			t.Error(err)
			return
		}
		chunk := bytes.Repeat([]byte("/rooms\n"), 100_000) // each lists 2000 rooms
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-stop:
				return
			default:
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(chunk); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
			flooded.Add(1)
		}
	}()
	testkit.Eventually(t, "both clients under way", func() bool {
		return trickled.Load() >= 3 && flooded.Load() >= 1
	})

	start := time.Now()
	finished := make(chan struct{})
	go func() {
		_ = srv.Shutdown(context.Background())
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(timeout + time.Second):
		t.Fatalf("Shutdown still running %v after it started, with --shutdown-timeout %v", time.Since(start).Round(time.Millisecond), timeout)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Serve did not return after Shutdown")
	}
}
