package lineclient

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// maxInputLine bounds one line of standard input (one message); the
// server's --max-line (default 4096 bytes) is usually the tighter bound.
const maxInputLine = 1 << 20

// pubBarrier is the /ping token pub sends after its last message: once the
// server answers it, every reply to the messages before it has arrived.
const pubBarrier = "switchboard-pub-done"

const pubHead = `Usage: switchboard pub [flags] TOPIC [TEXT|-]

Publishes TEXT (the words after TOPIC, joined by spaces) on TOPIC. With - or
no TEXT, publishes each line of standard input as one message, in order;
blank lines are skipped. Exits with status 1 if the server refused anything
(its "! " replies are printed on stderr), after waiting until the server has
handled every message. Flags may also follow the arguments; -- ends them.

Flags:
`

type pubOpts struct {
	common
	nick string
}

// Pub runs `switchboard pub`. It returns nil once the server has handled
// every message without an error reply, flag.ErrHelp after -h, and an
// error otherwise.
func Pub(ctx context.Context, args []string, env Env) error {
	var o pubOpts
	fs := flag.NewFlagSet("pub", flag.ContinueOnError)
	o.bind(fs, env)
	fs.StringVar(&o.nick, "nick", "", "publish as this nick instead of the guest nick the server gives")
	pos, err := parseArgs(fs, pubHead, args, env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		usage(env.Stderr, pubHead, fs)
		return errors.New("pub: missing TOPIC")
	}
	addr, err := o.check()
	if err != nil {
		return fmt.Errorf("pub: %w", err)
	}
	topic := pos[0]
	if err := checkWord("TOPIC", topic); err != nil {
		return fmt.Errorf("pub: %w", err)
	}
	if o.nick != "" {
		if err := checkWord("--nick", o.nick); err != nil {
			return fmt.Errorf("pub: %w", err)
		}
	}
	fromStdin := len(pos) == 1 || (len(pos) == 2 && pos[1] == "-")
	var text string
	if !fromStdin {
		text = strings.Join(pos[1:], " ")
		if strings.ContainsAny(text, "\r\n") {
			return errors.New("pub: TEXT holds a line break; a message is one line (use - to publish each line of stdin)")
		}
		if strings.TrimSpace(text) == "" {
			return errors.New("pub: TEXT is empty")
		}
	}

	c, err := dial(ctx, addr, o.timeout)
	if err != nil {
		return fmt.Errorf("pub: %w", err)
	}
	if fromStdin && env.StdinTerminal {
		fmt.Fprintf(env.Stderr, "switchboard pub: publishing each line you type on %s; end with Ctrl-D\n", topic)
	}
	defer c.close()
	defer context.AfterFunc(ctx, c.close)()
	if o.nick != "" {
		if err := setNick(c, o.nick, o.timeout); err != nil {
			return fmt.Errorf("pub: %w", interrupted(ctx, err))
		}
	}

	replies := make(chan pubReplies, 1)
	go func() { replies <- readPubReplies(c, env.Stderr) }()
	sent, werr := 0, error(nil)
	if fromStdin {
		sent, werr = publishLines(ctx, c, topic, env.Stdin)
	} else {
		werr = c.send("/pub " + topic + " " + text)
		sent = 1
	}
	if werr == nil {
		werr = c.send("/ping " + pubBarrier)
	}
	if werr == nil {
		werr = c.flush()
	}
	if werr != nil {
		c.close() // the reader stops too
	} else {
		_ = c.c.SetReadDeadline(time.Now().Add(o.timeout))
	}
	r := <-replies
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("pub: interrupted after %d message(s): %w", sent, ctx.Err())
	case r.errors > 0:
		return fmt.Errorf("pub: the server refused %d of %d message(s) (its replies are above)", r.errors, sent)
	case werr != nil:
		return fmt.Errorf("pub: %w", werr)
	case r.err != nil:
		return fmt.Errorf("pub: waiting for the server to confirm %d message(s): %w", sent, r.err)
	}
	return nil
}

// pubReplies is what the server answered a publisher.
type pubReplies struct {
	errors int   // "! " lines
	err    error // why the barrier's pong never came, if it did not
}

// readPubReplies reads the server's lines until the barrier's pong,
// printing and counting error lines. It runs on its own goroutine, so a
// publisher's error replies never pile up in the server's queue.
func readPubReplies(c *conn, stderr io.Writer) pubReplies {
	var r pubReplies
	for {
		l, err := c.readLine()
		if err != nil {
			r.err = err
			return r
		}
		switch {
		case l.Kind == line.KindError:
			r.errors++
			fmt.Fprintf(stderr, "%s%s\n", line.ErrorPrefix, l.Text)
		case l.Kind == line.KindInfo && string(l.Text) == "pong "+pubBarrier:
			return r
		}
	}
}

// publishLines publishes each non-blank line of in on topic and returns
// how many it sent. It flushes whenever no further line is waiting, so a
// slow producer (tail -f) publishes each line as it comes.
func publishLines(ctx context.Context, c *conn, topic string, in io.Reader) (int, error) {
	type input struct {
		text string
		err  error
	}
	lines := make(chan input, 64)
	done := make(chan struct{})
	defer close(done)
	// The reader ends at the end of input; when interrupted while it
	// waits for a line that never comes, the process exits under it.
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64<<10), maxInputLine)
		n := 0
		for sc.Scan() {
			n++
			select {
			case lines <- input{text: sc.Text()}:
			case <-done:
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line %d of stdin is longer than %d bytes", n+1, maxInputLine)
			}
			select {
			case lines <- input{err: fmt.Errorf("read stdin: %w", err)}:
			case <-done:
			}
		}
	}()
	sent := 0
	for {
		var in input
		var ok bool
		select {
		case in, ok = <-lines:
		case <-ctx.Done():
			return sent, ctx.Err()
		}
		if !ok {
			return sent, nil
		}
		if in.err != nil {
			return sent, in.err
		}
		if strings.TrimSpace(in.text) == "" {
			continue
		}
		if err := c.send("/pub " + topic + " " + in.text); err != nil {
			return sent, err
		}
		sent++
		if len(lines) == 0 {
			if err := c.flush(); err != nil {
				return sent, err
			}
		}
	}
}

// setNick asks for nick and waits for the answer.
func setNick(c *conn, nick string, timeout time.Duration) error {
	if err := c.send("/nick " + nick); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	defer c.c.SetReadDeadline(time.Time{})
	for {
		l, err := c.readLine()
		if err != nil {
			return fmt.Errorf("set nick %s: %w", nick, err)
		}
		switch {
		case l.Kind == line.KindError:
			return fmt.Errorf("set nick %s: %s", nick, l.Text)
		case l.Kind == line.KindInfo && string(l.Text) == "you are now "+nick:
			return nil
		}
	}
}

// checkWord refuses an argument that would not reach the server as one
// word of a command line; the server judges the rest (bad topic, pattern,
// nick) and says why.
func checkWord(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%s %q: must be one word, without spaces", what, s)
	}
	return nil
}

// interrupted returns ctx's error when ctx ended, which explains a failed
// read or write better than "use of closed network connection".
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return err
}
