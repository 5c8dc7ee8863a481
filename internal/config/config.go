// Package config is the table of a command's settings. Each setting is
// declared once — name, the field it sets, its default, its usage line and
// whether it may change while the program runs — and is then read from the
// command line, the environment and a TOML file, in that precedence
// (flag > environment > file > default), and printed by --help in one
// format. Sizes accept units (see internal/units).
//
// A Set is built once per load and is not safe for concurrent use; a
// reload builds a new Set over a new configuration and compares the two
// (Diff).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/units"
)

// Source says where an option's value came from.
type Source int

// Sources, lowest precedence first.
const (
	FromDefault Source = iota
	FromFile
	FromEnv
	FromFlag
)

// String names the source for logs.
func (s Source) String() string {
	return [...]string{"default", "file", "env", "flag"}[s]
}

// kind is the type of an option's value: it picks the parser, the word
// shown in usage and the TOML types a file may use.
type kind int

const (
	kindString kind = iota
	kindInt
	kindFloat
	kindBool
	kindDuration
	kindSize
	kindList
)

// kinds describes each kind: the word in usage and the expected form named
// in errors.
var kinds = [...]struct{ typ, form string }{
	kindString:   {"string", "a string"},
	kindInt:      {"int", "an integer"},
	kindFloat:    {"number", "a number such as 20 or 0.5"},
	kindBool:     {"", "true or false"},
	kindDuration: {"duration", "a duration such as 500ms, 10s or 2m"},
	kindSize:     {"size", units.SizeForm},
	kindList:     {"list", "a comma-separated list"},
}

// errWant is the error of a value that does not parse as k.
func errWant(k kind) error { return errors.New("want " + kinds[k].form) }

// value is an option's binding to its field.
type value interface {
	flag.Value
	// check parses s without storing it.
	check(s string) error
	kind() kind
}

// field binds a *T to its parser and printer.
type field[T any] struct {
	p      *T
	k      kind
	parse  func(string) (T, error)
	format func(T) string
}

func (f *field[T]) String() string {
	if f == nil || f.p == nil {
		return ""
	}
	return f.format(*f.p)
}

func (f *field[T]) Set(s string) error {
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

func (f *field[T]) check(s string) error { _, err := f.parse(s); return err }
func (f *field[T]) kind() kind           { return f.k }

// IsBoolFlag lets a bool option be given as a bare --name.
func (f *field[T]) IsBoolFlag() bool { return f.k == kindBool }

// Option is one setting of a Set.
type Option struct {
	// Name is the flag name without dashes; it is also the config file
	// key, and the environment variable is the Set's prefix plus Name in
	// upper case with '-' as '_'.
	Name string
	// Usage is the one-line description shown by --help.
	Usage string
	// Default is the default value as printed.
	Default string

	v      value
	reload bool
	secret bool
	file   bool // names the config file (Set.File)
	source Source
}

// Reloadable marks the option as one that may change while the program
// runs (on SIGHUP); Diff reports changes to other options as needing a
// restart.
func (o *Option) Reloadable() *Option { o.reload = true; return o }

// Secret marks the option's value as one never to be printed: Diff and
// usage show it redacted.
func (o *Option) Secret() *Option { o.secret = true; return o }

// IsReloadable reports whether Reloadable was called.
func (o *Option) IsReloadable() bool { return o.reload }

// Value returns the option's current value as printed (redacted for
// secrets).
func (o *Option) Value() string {
	if o.secret && o.v.String() != "" {
		return redacted
	}
	return o.v.String()
}

// Source says where the current value came from.
func (o *Option) Source() Source { return o.source }

// redacted replaces secret values in output.
const redacted = "[redacted]"

// Set is a command's table of options.
type Set struct {
	name      string
	envPrefix string
	opts      []*Option
	byName    map[string]*Option
	tables    any // pointer to the struct of the config file's tables
}

// New returns an empty Set for the command name (used in messages); a
// non-empty envPrefix ("SWITCHBOARD_") lets the environment set options.
func New(name, envPrefix string) *Set {
	return &Set{name: name, envPrefix: envPrefix, byName: map[string]*Option{}}
}

// add registers an option and stores its default. A name declared twice
// is a programming error and panics.
func add[T any](s *Set, p *T, k kind, name string, def T, usage string, parse func(string) (T, error), format func(T) string) *Option {
	if _, dup := s.byName[name]; dup {
		panic("config: option " + name + " declared twice")
	}
	*p = def
	o := &Option{Name: name, Usage: usage, v: &field[T]{p: p, k: k, parse: parse, format: format}}
	o.Default = o.v.String()
	s.opts = append(s.opts, o)
	s.byName[name] = o
	return o
}

// String declares a string option.
func (s *Set) String(p *string, name, def, usage string) *Option {
	return add(s, p, kindString, name, def, usage, func(v string) (string, error) { return v, nil }, func(v string) string { return v })
}

// Int declares an integer option (decimal, or 0x… hexadecimal).
func (s *Set) Int(p *int, name string, def int, usage string) *Option {
	return add(s, p, kindInt, name, def, usage, func(v string) (int, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 0, strconv.IntSize)
		if err != nil {
			return 0, errWant(kindInt)
		}
		return int(n), nil
	}, strconv.Itoa)
}

// Float declares a number option; NaN and infinities are refused.
func (s *Set) Float(p *float64, name string, def float64, usage string) *Option {
	return add(s, p, kindFloat, name, def, usage, func(v string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errWant(kindFloat)
		}
		return f, nil
	}, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
}

// Bool declares a boolean option; on the command line a bare --name means
// true.
func (s *Set) Bool(p *bool, name string, def bool, usage string) *Option {
	return add(s, p, kindBool, name, def, usage, func(v string) (bool, error) {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, errWant(kindBool)
		}
		return b, nil
	}, strconv.FormatBool)
}

// Duration declares a duration option in Go syntax (500ms, 10s, 2m).
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, usage string) *Option {
	return add(s, p, kindDuration, name, def, usage, func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return 0, errWant(kindDuration)
		}
		return d, nil
	}, time.Duration.String)
}

// Size declares a byte-count option that accepts units (units.ParseSize);
// it is a function because Go methods cannot have type parameters.
func Size[T ~int | ~int64](s *Set, p *T, name string, def T, usage string) *Option {
	return add(s, p, kindSize, name, def, usage, func(v string) (T, error) {
		var out T
		err := units.NewSize(&out).Set(v)
		return out, err
	}, func(v T) string { return units.FormatSize(int64(v)) })
}

// List declares a comma-separated list option; blanks around items and
// empty items are dropped.
func (s *Set) List(p *[]string, name string, def []string, usage string) *Option {
	return add(s, p, kindList, name, def, usage, func(v string) ([]string, error) {
		var out []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		return out, nil
	}, func(v []string) string { return strings.Join(v, ",") })
}

// Options returns the options in declaration order.
func (s *Set) Options() []*Option { return s.opts }

// Lookup returns the named option, or nil.
func (s *Set) Lookup(name string) *Option { return s.byName[name] }

// EnvName is the environment variable of an option name, e.g.
// SWITCHBOARD_TCP_ADDR for tcp-addr; "" when the Set has no prefix.
func (s *Set) EnvName(name string) string {
	if s.envPrefix == "" {
		return ""
	}
	return s.envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Load sets every option from its sources: the command line args first,
// then the environment (lookupEnv, usually os.LookupEnv; nil means none)
// for options the command line left alone, then the config file named by
// the File option (see LoadFile) for options neither set. It returns flag.ErrHelp for
// -h/--help (after nothing else), and an error naming the flag, variable
// or file line of the first bad value. Stray arguments are an error.
func (s *Set) Load(args []string, lookupEnv func(string) (string, bool)) error {
	fs := flag.NewFlagSet(s.name, flag.ContinueOnError)
	for _, o := range s.opts {
		fs.Var(o.v, o.Name, o.Usage)
	}
	if err := Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w (see %s --help)", err, s.name)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", s.name, fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { s.byName[f.Name].source = FromFlag })
	if err := s.loadEnv(lookupEnv); err != nil {
		return err
	}
	for _, o := range s.opts {
		if path := o.v.String(); o.file && path != "" {
			return s.LoadFile(path)
		}
	}
	return nil
}

// loadEnv sets options not given as flags from their environment
// variables.
func (s *Set) loadEnv(lookupEnv func(string) (string, bool)) error {
	if lookupEnv == nil || s.envPrefix == "" {
		return nil
	}
	for _, o := range s.opts {
		if o.source == FromFlag {
			continue
		}
		env := s.EnvName(o.Name)
		v, ok := lookupEnv(env)
		if !ok {
			continue
		}
		if err := o.v.Set(v); err != nil {
			return fmt.Errorf("invalid value %q in %s (--%s): %w", shown(o, v), env, o.Name, err)
		}
		o.source = FromEnv
	}
	return nil
}

// shown is v as it may appear in an error: redacted for secrets.
func shown(o *Option, v string) string {
	if o.secret {
		return redacted
	}
	return v
}

// Parse parses args into fs without printing anything: a bad flag is an
// error naming it with two dashes and the expected form ("invalid value
// "12XB" for --max-pending: want a size such as 65536, 64KiB or 1MiB"),
// not a dump of the whole usage; -h and --help return flag.ErrHelp for the
// caller to print usage. It works for any FlagSet, so that every command
// reports flag errors the same way.
func Parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	if m := badValue.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("invalid value %s for --%s: %s", m[1], m[2], stockReason(fs.Lookup(m[2]), m[3]))
	}
	for _, r := range []struct{ from, to string }{
		{"flag provided but not defined: -", "unknown flag --"},
		{"flag needs an argument: -", "missing value for --"},
	} {
		if rest, ok := strings.CutPrefix(msg, r.from); ok {
			return errors.New(r.to + rest)
		}
	}
	return err
}

// badValue matches the flag package's errors for a value its flag refused:
// `invalid value "x" for flag -name: reason` (and "invalid boolean value").
var badValue = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([^:\s]+): (.*)$`)

// stockReason replaces the flag package's "parse error" for its own value
// types with the expected form, as this package's values say it.
func stockReason(f *flag.Flag, reason string) string {
	if f == nil || (reason != "parse error" && reason != "value out of range") {
		return reason
	}
	typ, _ := flag.UnquoteUsage(f)
	if _, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && typ == "" {
		typ = "bool"
	}
	switch typ {
	case "int", "uint":
		return errWant(kindInt).Error()
	case "float":
		return errWant(kindFloat).Error()
	case "duration":
		return errWant(kindDuration).Error()
	case "bool":
		return errWant(kindBool).Error()
	}
	return reason
}

// Usage prints the options in the one format every command uses:
//
//	--name TYPE
//	      usage
//	      default D, env SWITCHBOARD_NAME[, reloads on SIGHUP]
func (s *Set) Usage(w io.Writer) {
	for _, o := range s.opts {
		def := o.Default
		switch {
		case o.secret && def != "":
			def = redacted
		case o.v.kind() == kindString && def != "":
			def = strconv.Quote(def)
		}
		extra := ""
		if env := s.EnvName(o.Name); env != "" {
			extra = ", env " + env
		}
		if o.reload {
			extra += ", reloads on SIGHUP"
		}
		printEntry(w, o.Name, kinds[o.v.kind()].typ, o.Usage, def, extra)
	}
}

// PrintFlags prints a plain FlagSet's flags in the format of Set.Usage,
// for commands that declare their flags with the flag package. A
// flag.Value with a TypeName() string method names its type ("size").
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		if t, ok := f.Value.(interface{ TypeName() string }); ok {
			typ = t.TypeName()
		} else if typ == "value" {
			typ = ""
		}
		printEntry(w, f.Name, typ, usage, f.DefValue, "")
	})
}

// printEntry prints one option of a usage text.
func printEntry(w io.Writer, name, typ, usage, def, extra string) {
	if def == "" {
		def = `""`
	}
	if typ != "" {
		typ = " " + typ
	}
	fmt.Fprintf(w, "  --%s%s\n        %s\n        default %s%s\n", name, typ, usage, def, extra)
}

// Change is one option whose value differs between two loads.
type Change struct {
	Name     string
	Old, New string // as printed; redacted for secrets
	// Reloadable says the option may change at run time; a change to any
	// other option needs a restart.
	Reloadable bool
}

// String renders the change as "name: old -> new".
func (c Change) String() string {
	return fmt.Sprintf("%s: %s -> %s", c.Name, orEmpty(c.Old), orEmpty(c.New))
}

func orEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Adopt copies into s the values of next's reloadable options that
// differ, so that s describes what runs after a reload: the reloadable
// settings from next, the others as they were. s and next must be
// declared by the same code.
func (s *Set) Adopt(next *Set) error {
	for _, n := range next.opts {
		o := s.byName[n.Name]
		if o == nil || !n.reload || o.v.String() == n.v.String() {
			continue
		}
		if err := o.v.Set(n.v.String()); err != nil {
			return fmt.Errorf("config: adopt %s: %w", n.Name, err)
		}
		o.source = n.source
	}
	return nil
}

// Diff lists the options whose values differ between old and new, two
// Sets declared by the same code over two configurations, in declaration
// order. Secret values are redacted, but a change to them is still listed.
func Diff(old, new *Set) []Change {
	var out []Change
	for _, n := range new.opts {
		o := old.byName[n.Name]
		if o == nil || o.v.String() == n.v.String() {
			continue
		}
		out = append(out, Change{Name: n.Name, Old: o.Value(), New: n.Value(), Reloadable: n.reload})
	}
	return out
}
