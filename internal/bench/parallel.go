package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// dialParallelism bounds concurrent connection attempts: enough to open
// 19,000 connections in seconds, few enough not to overflow the server's
// accept backlog.
const dialParallelism = 64

// parallel runs fn(0..n-1) on up to dialParallelism goroutines, counting
// successes in done. It stops starting new calls at the first error or
// when ctx is done, waits for the running ones, and returns the first error.
func parallel(ctx context.Context, n int, done *atomic.Int64, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(n, dialParallelism) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if first == nil && int(done.Load()) < n {
		first = context.Cause(ctx)
	}
	return first
}

// isClosedErr reports whether err is what reading a connection returns
// after either side closed it.
func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
