package main

import (
	"context"
	"io"

	"github.com/switchboard-hub/switchboard/internal/bench"
	"github.com/switchboard-hub/switchboard/internal/stress"
)

// benchMain runs `switchboard bench`: the load generator.
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return bench.Main(ctx, args, stdout, stderr)
}

// stressMain runs `switchboard stress`: the goroutine experiments.
func stressMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return stress.Main(ctx, args, stdout, stderr)
}
