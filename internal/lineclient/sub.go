package lineclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// Tokens of the /ping lines sub sends: the first is the barrier after its
// subscriptions, the second keeps an idle subscriber from --idle-timeout.
const (
	subReady     = "switchboard-sub-ready"
	subKeepalive = "switchboard-sub-keepalive"
)

const subHead = `Usage: switchboard sub [flags] PATTERN...

Subscribes to every PATTERN (a.b, a.* for one word, a.> for the rest) and
prints each message that arrives, one a line, as the server sends it:
"[topic] nick: text" (with --json, one JSON object a line:
{"topic":…,"from":…,"text":…}). Once every subscription is active it says
so on stderr; from then on every message published reaches it. It runs until
--count messages arrived (exit 0), until interrupted (exit 0), or until the
server refuses a pattern or closes the connection (exit 1). Flags may also
follow the patterns; -- ends them.

Flags:
`

type subOpts struct {
	common
	count     int
	json      bool
	group     string
	keepalive time.Duration
}

// Sub runs `switchboard sub`. It returns nil after --count messages or
// when ctx ends, flag.ErrHelp after -h, and an error when the server
// refuses a subscription, sends an error or goes away.
func Sub(ctx context.Context, args []string, env Env) error {
	var o subOpts
	fs := flag.NewFlagSet("sub", flag.ContinueOnError)
	o.bind(fs, env)
	fs.IntVar(&o.count, "count", 0, "exit after this many messages; 0 = run until interrupted")
	fs.BoolVar(&o.json, "json", false, `print each message as a JSON object {"topic","from","text"} on its own line`)
	fs.StringVar(&o.group, "group", "", "subscribe in this queue group: each message goes to one member of the group")
	fs.DurationVar(&o.keepalive, "keepalive", 30*time.Second, "send /ping this often, so a server with --idle-timeout keeps a quiet subscriber; 0 = never")
	pos, err := parseArgs(fs, subHead, args, env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		usage(env.Stderr, subHead, fs)
		return errors.New("sub: missing PATTERN")
	}
	addr, err := o.check()
	if err != nil {
		return fmt.Errorf("sub: %w", err)
	}
	switch {
	case o.count < 0:
		return fmt.Errorf("sub: --count %d: must be 0 or more", o.count)
	case o.keepalive < 0:
		return fmt.Errorf("sub: --keepalive %v: must be 0 or more", o.keepalive)
	}
	for _, p := range pos {
		if err := checkWord("PATTERN", p); err != nil {
			return fmt.Errorf("sub: %w", err)
		}
	}
	if o.group != "" {
		if err := checkWord("--group", o.group); err != nil {
			return fmt.Errorf("sub: %w", err)
		}
	}

	c, err := dial(ctx, addr, o.timeout)
	if err != nil {
		return fmt.Errorf("sub: %w", err)
	}
	defer c.close()
	defer context.AfterFunc(ctx, c.close)()
	for _, p := range pos {
		cmd := "/sub " + p
		if o.group != "" {
			cmd += " " + o.group
		}
		if err := c.send(cmd); err != nil {
			return fmt.Errorf("sub: %w", interrupted(ctx, err))
		}
	}
	if err := c.send("/ping " + subReady); err != nil {
		return fmt.Errorf("sub: %w", interrupted(ctx, err))
	}
	if err := c.flush(); err != nil {
		return fmt.Errorf("sub: %w", interrupted(ctx, err))
	}
	_ = c.c.SetReadDeadline(time.Now().Add(o.timeout))

	s := &subscriber{o: &o, c: c, out: bufio.NewWriter(env.Stdout), stderr: env.Stderr, patterns: pos}
	s.enc = json.NewEncoder(s.out)
	s.enc.SetEscapeHTML(false)
	err = s.run()
	s.stopKeepalive()
	if ferr := s.out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write stdout: %w", ferr)
	}
	if ctx.Err() != nil {
		return nil // interrupted: the normal way to stop a subscriber
	}
	if err != nil {
		return fmt.Errorf("sub: %w", err)
	}
	return nil
}

// subscriber is one running `switchboard sub`: its read loop runs on the
// caller's goroutine; after the subscriptions are confirmed a keepalive
// goroutine owns the connection's write side.
type subscriber struct {
	o        *subOpts
	c        *conn
	out      *bufio.Writer
	enc      *json.Encoder
	stderr   io.Writer
	patterns []string
	received int

	stop chan struct{}
	wg   sync.WaitGroup
}

// jsonMessage is one message in --json output; the fields are named as in
// the WebSocket door's msg frames.
type jsonMessage struct {
	Topic string `json:"topic"`
	From  string `json:"from"`
	Text  string `json:"text"`
}

func (s *subscriber) run() error {
	ready := false
	for {
		if ready && s.c.r.Buffered() == 0 {
			if err := s.out.Flush(); err != nil {
				return fmt.Errorf("write stdout: %w", err)
			}
		}
		l, err := s.c.readLine()
		if err != nil {
			if !ready {
				return fmt.Errorf("subscribe %s: %w", strings.Join(s.patterns, " "), err)
			}
			return err
		}
		switch l.Kind {
		case line.KindMessage:
			if err := s.print(l); err != nil {
				return err
			}
			s.received++
			if s.o.count > 0 && s.received >= s.o.count {
				return nil
			}
		case line.KindError:
			if !ready {
				return fmt.Errorf("subscribe: %s", l.Text)
			}
			fmt.Fprintf(s.stderr, "%s%s\n", line.ErrorPrefix, l.Text)
			return fmt.Errorf("the server said: %s", l.Text)
		case line.KindInfo:
			switch t := string(l.Text); {
			case t == "pong "+subReady:
				ready = true
				_ = s.c.c.SetReadDeadline(time.Time{})
				fmt.Fprintf(s.stderr, "switchboard sub: subscribed to %s on %s\n", strings.Join(s.patterns, ", "), s.c.addr)
				s.startKeepalive()
			case t == "pong "+subKeepalive, strings.HasPrefix(t, "subscribed "):
			default:
				fmt.Fprintf(s.stderr, "%s%s\n", line.InfoPrefix, l.Text)
			}
		case line.KindPrivate:
			fmt.Fprintf(s.stderr, "%s%s: %s\n", line.PrivatePrefix, l.From, l.Text)
		}
	}
}

// print writes one message to stdout, in the chosen form.
func (s *subscriber) print(l line.ServerLine) error {
	var err error
	if s.o.json {
		err = s.enc.Encode(jsonMessage{Topic: string(l.Topic), From: string(l.From), Text: string(l.Text)})
	} else {
		text := l.Text
		if !line.Clean(text) { // a switchboard server never sends this
			text = line.Sanitize(nil, text)
		}
		_, err = s.out.WriteString(string(line.AppendMessage(nil, string(l.Topic), string(l.From), string(text))))
	}
	if err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

// startKeepalive starts the goroutine that pings every --keepalive.
func (s *subscriber) startKeepalive() {
	if s.o.keepalive == 0 || s.stop != nil {
		return
	}
	s.stop = make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.o.keepalive)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				_ = s.c.c.SetWriteDeadline(time.Now().Add(s.o.timeout))
				if s.c.send("/ping "+subKeepalive) != nil || s.c.flush() != nil {
					s.c.close() // the read loop reports it
					return
				}
			}
		}
	}()
}

// stopKeepalive stops the keepalive goroutine and waits for it.
func (s *subscriber) stopKeepalive() {
	if s.stop != nil {
		close(s.stop)
		s.wg.Wait()
	}
}
