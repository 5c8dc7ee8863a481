// Package faultproxy is a TCP proxy for fault-injection tests: it sits
// between clients and a server (switchboard nodes and NATS) and can stall
// (stop forwarding in both directions while keeping every connection open,
// as a SIGSTOPped server or a black-holed network does), resume, and drop
// (close every connection, as a reset network does). It listens on
// loopback only and is not for production use.
package faultproxy

import (
	"fmt"
	"net"
	"sync"
)

// Proxy forwards connections on its address to a target. Its methods are
// safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex // guards resume, conns, closed
	resume  chan struct{}
	conns   map[net.Conn]struct{}
	closed  bool
	stopped chan struct{}
	wg      sync.WaitGroup
}

// Start listens on a free loopback port and forwards every connection to
// target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{}), stopped: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns the proxy's address as a nats:// URL.
func (p *Proxy) URL() string { return "nats://" + p.Addr() }

// Stall stops forwarding: connections stay open, nothing more is read from
// either side (so the peers' TCP buffers fill up), and new connections are
// accepted but not forwarded either.
func (p *Proxy) Stall() {
	p.mu.Lock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
	p.mu.Unlock()
}

// Resume undoes Stall: what was held back flows again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
	p.mu.Unlock()
}

// Drop closes every open connection, both sides; new connections are
// served as before.
func (p *Proxy) Drop() {
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// Close stops the proxy, closes every connection and waits for its
// goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stopped)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Drop()
	p.wg.Wait()
}

// gate waits while the proxy is stalled; it reports false once the proxy
// is closed.
func (p *Proxy) gate() bool {
	p.mu.Lock()
	ch := p.resume
	p.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-p.stopped:
		return false
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve connects one client to the target and pumps both ways.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { p.pump(up, c); done <- struct{}{} }()
	go func() { p.pump(c, up); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

// pump copies from src to dst, holding still while the proxy is stalled.
func (p *Proxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if !p.gate() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
