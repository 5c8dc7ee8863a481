package webfront

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// corkConn lets the WebSocket transport write a whole batch of messages
// with one system call. coder/websocket flushes every message to the
// connection; while the connection is corked those writes are collected,
// and uncork sends them at once (what net.Buffers does for the TCP door).
// The mutex keeps the byte order whatever goroutine writes: the library's
// own control frames (pongs, close) may be written at any time.
type corkConn struct {
	net.Conn

	mu     sync.Mutex // guards corked and buf, and orders every write
	corked bool
	buf    []byte
}

// maxIdleCorkBuf is the largest batch buffer kept between batches; a
// larger one is dropped so that an idle connection pins little memory.
const maxIdleCorkBuf = 64 << 10

// Write implements net.Conn.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// cork starts collecting writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was collected, in one write, and stops collecting.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxIdleCorkBuf {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	if err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// corkWriter is the ResponseWriter given to websocket.Accept: its Hijack
// hands the library a corkConn, with a buffered writer on top of it.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn // set by Hijack
}

// Hijack implements http.Hijacker.
func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("websocket: response writer %T cannot hijack", w.ResponseWriter)
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("websocket: flush handshake: %w", err)
	}
	w.conn = &corkConn{Conn: nc}
	return w.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.conn, 4096)), nil
}
