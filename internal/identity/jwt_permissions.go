package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodePermissions decodes a JWT's "permissions" claim strictly: a JSON
// object whose only members are "publish", "subscribe", "deny-publish"
// and "deny-subscribe", each at most once, spelled exactly so, each an
// array of strings that are valid patterns. Anything else is an error:
// a token that says more than we understand is not half-believed.
func decodePermissions(raw []byte) (*Permissions, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := wantDelim(dec, '{'); err != nil {
		return nil, err
	}
	var p Permissions
	lists := map[string]*[]string{
		"publish":        &p.Publish,
		"subscribe":      &p.Subscribe,
		"deny-publish":   &p.DenyPublish,
		"deny-subscribe": &p.DenySubscribe,
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string) // a member name is always a string
		out, known := lists[name]
		if !known {
			return nil, fmt.Errorf("unknown member %q", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%q given twice", name)
		}
		seen[name] = true
		if *out, err = decodeList(dec); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := wantDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	if _, err := Compile(p); err != nil {
		return nil, err
	}
	return &p, nil
}

// decodeList decodes an array of strings, refusing null and non-strings.
func decodeList(dec *json.Decoder) ([]string, error) {
	if err := wantDelim(dec, '['); err != nil {
		return nil, err
	}
	list := []string{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		s, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", t)
		}
		list = append(list, s)
	}
	return list, wantDelim(dec, ']')
}

// wantDelim reads the next token and checks it is d.
func wantDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("want %v, got %v", d, t)
	}
	return nil
}
