package webfront

import "testing"

// TestHostRuleDefaults covers the default Host rule by listen address and
// the explicit patterns of --allowed-hosts.
func TestHostRuleDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr    string
		allowed []string
		host    string
		want    bool
	}{
		{":8080", nil, "evil.com", true},
		{"0.0.0.0:8080", nil, "anything.example:8080", true},
		{"[::]:8080", nil, "evil.com", true},
		{"127.0.0.1:8080", nil, "127.0.0.1:8080", true},
		{"127.0.0.1:8080", nil, "localhost", true},
		{"127.0.0.1:8080", nil, "[::1]:8080", true},
		{"127.0.0.1:8080", nil, "evil.com:8080", false},
		{"127.0.0.1:8080", nil, "", false},
		{"localhost:8080", nil, "127.0.0.1:8080", true},
		{"192.0.2.7:8080", nil, "192.0.2.7:8080", true},
		{"192.0.2.7:8080", nil, "example.com", false},
		{":8080", []string{"*.example.org"}, "a.example.org:80", true},
		{":8080", []string{"*.example.org"}, "example.org", false},
		{":8080", []string{"*.example.org"}, "127.0.0.1", false},
		{"127.0.0.1:0", []string{"*"}, "evil.com", true},
	} {
		r, err := newHostRule(tc.addr, tc.allowed)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.allows(tc.host); got != tc.want {
			t.Errorf("listening on %q, allowed %q: Host %q allowed = %v, want %v", tc.addr, tc.allowed, tc.host, got, tc.want)
		}
	}
	if _, err := newHostRule(":1", []string{"[bad"}); err == nil {
		t.Error("a malformed host pattern was accepted")
	}
}
