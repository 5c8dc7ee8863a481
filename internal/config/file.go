package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// File declares the option that names the TOML config file: Load reads the
// file it names (from the command line or the environment) after flags
// and environment. The option itself cannot be set from a file.
func (s *Set) File(p *string, name, usage string) *Option {
	o := s.String(p, name, "", usage)
	o.file = true
	return o
}

// Tables sets the struct the config file's tables decode into: p points
// to a struct whose fields carry `toml:"name"` tags (one field per table,
// e.g. a []User for [[user]]). Decoding is strict: a table, or a key in a
// table, that p has no field for is an error with its line. Without
// Tables every table is an error; top-level keys are always the options.
func (s *Set) Tables(p any) { s.tables = p }

// FileError is one problem in a config file, with its line.
type FileError struct {
	File string
	Line int    // 1-based; 0 when unknown
	Key  string // dotted key ("max-pending", "user.name"); may be empty
	Msg  string
}

// Error renders "FILE:LINE: KEY: MSG".
func (e FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// FileErrors are every problem found in one config file, in line order.
type FileErrors []FileError

// Error renders one problem per line.
func (es FileErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads the TOML file at path and sets every option it names that
// neither the command line nor the environment set (those are checked
// but keep their value). Every problem is reported, as FileErrors.
func (s *Set) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	return s.Decode(path, data)
}

// Decode is LoadFile on data already read; name labels the errors.
func (s *Set) Decode(name string, data []byte) error {
	errs, lines := s.decodeTables(name, data)
	if len(errs) > 0 && lines == nil {
		return errs // the document does not parse
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return append(errs, FileError{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")})
	}
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return lines[a] - lines[b] })
	for _, key := range keys {
		o := s.byName[key]
		fail := func(msg string) { errs = append(errs, FileError{File: name, Line: lines[key], Key: key, Msg: msg}) }
		if o.file {
			fail("names the config file; it cannot be set in one")
			continue
		}
		v, err := tomlText(o.v.kind(), raw[key])
		if err != nil {
			fail(err.Error())
			continue
		}
		if o.source > FromFile {
			err = o.v.check(v)
		} else if err = o.v.Set(v); err == nil {
			o.source = FromFile
		}
		if err != nil {
			fail(fmt.Sprintf("invalid value %q: %v", shown(o, v), err))
		}
	}
	slices.SortStableFunc(errs, func(a, b FileError) int { return a.Line - b.Line })
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// decodeTables decodes the document strictly into the tables struct. Every
// top-level key is unknown to that struct, so the strict decoder reports
// each one with its line: those that name options are returned in lines
// (option name → line), the rest are errors. A document that does not
// parse, or a table field of the wrong type, returns nil lines.
func (s *Set) decodeTables(name string, data []byte) (FileErrors, map[string]int) {
	tables := s.tables
	if tables == nil {
		tables = &struct{}{}
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(tables)
	lines := map[string]int{}
	if err == nil {
		return nil, lines
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs FileErrors
		for _, e := range strict.Errors {
			key := e.Key()
			row, _ := e.Position()
			if len(key) == 1 && s.byName[key[0]] != nil {
				lines[key[0]] = row
				continue
			}
			what := "unknown key"
			if strings.Contains(e.Error(), "table") {
				what = "unknown table"
			}
			errs = append(errs, FileError{File: name, Line: row, Key: strings.Join(key, "."), Msg: what})
		}
		return errs, lines
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return FileErrors{{File: name, Line: row, Key: strings.Join(de.Key(), "."), Msg: strings.TrimPrefix(de.Error(), "toml: ")}}, nil
	}
	return FileErrors{{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}}, nil
}

// tomlText turns a decoded TOML value into the text an option parses, or
// says which TOML type the option wants.
func tomlText(k kind, v any) (string, error) {
	switch x := v.(type) {
	case string:
		switch k {
		case kindString, kindDuration, kindSize, kindList:
			return x, nil
		}
	case int64:
		switch k {
		case kindInt, kindSize, kindFloat:
			return strconv.FormatInt(x, 10), nil
		}
	case float64:
		if k == kindFloat {
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	case bool:
		if k == kindBool {
			return strconv.FormatBool(x), nil
		}
	case []any:
		if k == kindList {
			items := make([]string, len(x))
			for i, item := range x {
				str, ok := item.(string)
				if !ok {
					return "", fmt.Errorf("want %s of strings, got %s in it", kinds[k].form, tomlType(item))
				}
				items[i] = str
			}
			return strings.Join(items, ","), nil
		}
	}
	want := kinds[k].form
	switch k {
	case kindDuration:
		want = "a string with " + want
	case kindList:
		want = "an array of strings or " + want
	}
	return "", fmt.Errorf("want %s, got %s", want, tomlType(v))
}

// tomlType names a decoded TOML value's type for errors.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time, toml.LocalDate, toml.LocalDateTime, toml.LocalTime:
		return "a date or time"
	}
	return fmt.Sprintf("%T", v)
}
