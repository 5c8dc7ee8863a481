package main

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/switchboard-hub/switchboard/internal/lineclient"
)

// clientEnv is the process's side of `switchboard pub` and `sub`.
func clientEnv(stdout, stderr io.Writer) lineclient.Env {
	return lineclient.Env{
		Stdin:         os.Stdin,
		Stdout:        stdout,
		Stderr:        stderr,
		Getenv:        os.Getenv,
		StdinTerminal: term.IsTerminal(int(os.Stdin.Fd())),
	}
}

// pubMain runs `switchboard pub`: publish from the command line or stdin.
func pubMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return lineclient.Pub(ctx, args, clientEnv(stdout, stderr))
}

// subMain runs `switchboard sub`: print the messages on patterns.
func subMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return lineclient.Sub(ctx, args, clientEnv(stdout, stderr))
}
