package tcpfront

import (
	"net"
	"syscall"
	"testing"
	"time"
)

func TestSetKeepAlive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		period    time.Duration
		wantOn    int
		wantIntvl int // seconds, checked when on
	}{
		{"configured period", 42 * time.Second, 1, 42},
		{"off", -1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc := c.(*net.TCPConn)
			setKeepAlive(tc, tt.period)
			rc, err := tc.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var on, idle, intvl int
			var gerr error
			if err := rc.Control(func(fd uintptr) {
				get := func(level, opt int) int {
					v, err := syscall.GetsockoptInt(int(fd), level, opt)
					if err != nil && gerr == nil {
						gerr = err
					}
					return v
				}
				on = get(syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
				idle = get(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
				intvl = get(syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
			}); err != nil || gerr != nil {
				t.Fatal(err, gerr)
			}
			if on != tt.wantOn || (tt.wantOn == 1 && (idle != tt.wantIntvl || intvl != tt.wantIntvl)) {
				t.Errorf("SO_KEEPALIVE=%d TCP_KEEPIDLE=%d TCP_KEEPINTVL=%d, want %d, %d, %d", on, idle, intvl, tt.wantOn, tt.wantIntvl, tt.wantIntvl)
			}
		})
	}
}
