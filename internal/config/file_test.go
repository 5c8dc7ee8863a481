package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilePrecedence: flag > environment > file > default.
func TestFilePrecedence(t *testing.T) {
	var c testConfig
	var path string
	s := newTestSet(&c)
	s.File(&path, "config", "config file")
	file := filepath.Join(t.TempDir(), "test.toml")
	doc := `# every level sets addr; env and file set burst; only the file sets max-pending
addr = ":file"
burst = 7
max-pending = "64KiB"
origins = ["a.com", "b.com"]
on = true
rate = 2
`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"T_CONFIG": file, "T_ADDR": ":env", "T_BURST": "3"})
	if err := s.Load([]string{"--addr", ":flag"}, env); err != nil {
		t.Fatal(err)
	}
	if c.addr != ":flag" || c.burst != 3 || c.pending != 64<<10 || strings.Join(c.origins, ",") != "a.com,b.com" || !c.on || c.rate != 2 {
		t.Errorf("got %+v", c)
	}
	if c.body != 64<<10 || c.idle != 0 {
		t.Errorf("defaults lost: %+v", c)
	}
	for name, src := range map[string]Source{"addr": FromFlag, "burst": FromEnv, "max-pending": FromFile, "max-body": FromDefault} {
		if got := s.Lookup(name).Source(); got != src {
			t.Errorf("%s from %v, want %v", name, got, src)
		}
	}
}

// TestFileErrors: every problem is reported with its key and line; the
// value of a secret is never echoed.
func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"types and unknowns", `addr = ":5"
burst = "ten"
bogus = 1
max-pending = "12XB"
max-body = 1.5
on = "yes"
idle = 10
origins = [1, 2]
token = 5

[tcp]
x = 1
`, []string{
			`f.toml:2: burst: want an integer, got a string`,
			`f.toml:3: bogus: unknown key`,
			`f.toml:4: max-pending: invalid value "12XB": want a size such as 65536, 64KiB or 1MiB`,
			`f.toml:5: max-body: want a size such as 65536, 64KiB or 1MiB, got a float`,
			`f.toml:6: on: want true or false, got a string`,
			`f.toml:7: idle: want a string with a duration such as 500ms, 10s or 2m, got an integer`,
			`f.toml:8: origins: want a comma-separated list of strings, got an integer in it`,
			`f.toml:9: token: want a string, got an integer`,
			`f.toml:11: tcp: unknown table`,
		}},
		{"syntax", "addr = \n", []string{`f.toml:1: `}},
		{"duplicate key", "burst = 1\nburst = 2\n", []string{`f.toml:2: `}},
		{"dotted key", "addr.port = 1\n", []string{`f.toml:1: addr.port: unknown key`}},
		{"option as a table", "[max-pending]\nx = 1\n", []string{`f.toml:1: max-pending: want a size such as 65536, 64KiB or 1MiB, got a table`}},
		{"the file option", "config = \"other.toml\"\n", []string{`f.toml:1: config: names the config file; it cannot be set in one`}},
		{"negative size", "max-pending = -1\n", []string{`f.toml:1: max-pending: invalid value "-1": want a size`}},
	}
	for _, tt := range tests {
		var c testConfig
		var path string
		s := newTestSet(&c)
		s.File(&path, "config", "")
		err := s.Decode("f.toml", []byte(tt.doc))
		var fe FileErrors
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want FileErrors", tt.name, err)
			continue
		}
		if len(fe) != len(tt.want) {
			t.Errorf("%s: %d errors, want %d:\n%v", tt.name, len(fe), len(tt.want), err)
			continue
		}
		for i, w := range tt.want {
			if !strings.HasPrefix(fe[i].Error(), w) {
				t.Errorf("%s: error %d = %q, want prefix %q", tt.name, i, fe[i].Error(), w)
			}
		}
	}
	var n int
	s := New("test", "")
	s.Int(&n, "pin", 0, "").Secret()
	if err := s.Decode("f.toml", []byte(`pin = "hunter2"`)); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("secret: %v", err)
	}
	s = New("test", "")
	var tok string
	s.String(&tok, "tok", "", "").Secret()
	if err := s.Decode("f.toml", []byte("tok = \"x\"\n[t]\n")); err == nil || strings.Contains(err.Error(), `"x"`) {
		t.Errorf("secret: %v", err)
	}
}

// TestFileTables: the file's tables decode into the Tables struct, strictly;
// adding a table is one struct field.
func TestFileTables(t *testing.T) {
	type user struct {
		Name  string `toml:"name"`
		Token string `toml:"token"`
	}
	var tables struct {
		Users []user `toml:"user"`
	}
	var c testConfig
	s := newTestSet(&c)
	s.Tables(&tables)
	doc := "burst = 4\n\n[[user]]\nname = \"ann\"\n\n[[user]]\nname = \"bob\"\nnmae = \"typo\"\n"
	err := s.Decode("f.toml", []byte(doc))
	var fe FileErrors
	if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Error() != "f.toml:8: user.nmae: unknown key" {
		t.Fatalf("err = %v", err)
	}
	if len(tables.Users) != 2 || tables.Users[1].Name != "bob" || c.burst != 4 {
		t.Errorf("tables %+v, burst %d", tables, c.burst)
	}
	err = s.Decode("f.toml", []byte("[[user]]\nname = 3\n"))
	if !errors.As(err, &fe) || len(fe) != 1 || !strings.HasPrefix(fe[0].Error(), "f.toml:2: user.name: ") {
		t.Errorf("wrong type in a table: %v", err)
	}
}

func TestLoadFileMissing(t *testing.T) {
	var c testConfig
	err := newTestSet(&c).LoadFile(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Errorf("err = %v", err)
	}
}

// FuzzDecode: whatever the file holds, Decode never panics and either
// succeeds or returns FileErrors, each with a line inside the document
// (or 0) and a message.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("addr = \":1\"\nmax-pending = \"64KiB\"\norigins = [\"a\"]\n"))
	f.Add([]byte("[[user]]\nname = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c testConfig
		var path string
		s := newTestSet(&c)
		s.File(&path, "config", "")
		err := s.Decode("f.toml", data)
		if err == nil {
			return
		}
		var fe FileErrors
		if !errors.As(err, &fe) || len(fe) == 0 {
			t.Fatalf("err %T %v, want FileErrors", err, err)
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range fe {
			if e.Line < 0 || e.Line > lines || e.Msg == "" {
				t.Fatalf("bad error %+v for %q", e, data)
			}
		}
	})
}
