package hub

import "fmt"

// NameError is a malformed topic, pattern, nick or queue group name. Its
// fields let a caller word the refusal in its own terms; errors.Is matches
// it against its Kind (ErrBadTopic, ErrBadPattern, ErrBadNick or
// ErrBadGroup).
type NameError struct {
	Kind   error  // which kind of name: ErrBadTopic, ErrBadPattern, ErrBadNick, ErrBadGroup
	Name   string // the name as given, clipped and made printable
	Reason string // what is wrong with it, e.g. "empty word"; may be empty
	Rule   string // what a good name looks like
}

// Error implements error, e.g. `hub: bad topic "a..b": empty word (use …)`.
func (e *NameError) Error() string {
	return "hub: " + e.Text()
}

// Text is the error without the package prefix, as shown to users.
func (e *NameError) Text() string {
	what := e.Kind.Error()[len("hub: "):]
	if e.Reason == "" {
		return fmt.Sprintf("%s %q: %s", what, e.Name, e.Rule)
	}
	return fmt.Sprintf("%s %q: %s (%s)", what, e.Name, e.Reason, e.Rule)
}

// Unwrap returns the kind, so that errors.Is(err, ErrBadTopic) works.
func (e *NameError) Unwrap() error { return e.Kind }
