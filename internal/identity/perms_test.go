package identity

import "testing"

func TestCovers(t *testing.T) {
	tests := []struct {
		p, q string
		want bool
	}{
		{">", "a", true},
		{">", "a.>", true},
		{"a.>", "a.b.c", true},
		{"a.>", "a.*", true},
		{"a.>", "a", false},
		{"a.*", "a.b", true},
		{"a.*", "a.*", true},
		{"a.*", "a.>", false},
		{"a.*", "a.b.c", false},
		{"a.b", "a.*", false},
		{"a.b", "a.b", true},
		{"*.b", "x.b", true},
		{"lobby", "lobby", true},
		{"lobby", ">", false},
	}
	for _, tt := range tests {
		if got := Covers(tt.p, tt.q); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
}

func TestPerms(t *testing.T) {
	p, err := Compile(Permissions{
		Publish:       []string{"alerts.>", "lobby"},
		Subscribe:     []string{">"},
		DenyPublish:   []string{"alerts.secret"},
		DenySubscribe: []string{"alerts.disk"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"publish allowed by wildcard", p.MayPublish("alerts.cpu"), true},
		{"publish allowed literal", p.MayPublish("lobby"), true},
		{"publish elsewhere refused", p.MayPublish("chat"), false},
		{"deny wins over allow", p.MayPublish("alerts.secret"), false},
		{"subscribe anywhere", p.MaySubscribe("news.>"), true},
		{"subscribe to the denied subject refused", p.MaySubscribe("alerts.disk"), false},
		{"overlapping wildcard allowed", p.MaySubscribe("alerts.*"), true},
		{"but its denied subject filtered", p.MayReceive("alerts.disk"), false},
		{"other subjects delivered", p.MayReceive("alerts.cpu"), true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	lobby, _ := Compile(Permissions{Subscribe: []string{"lobby"}})
	if lobby.MayReceive("news") || !lobby.MayReceive("lobby") {
		t.Error("a subject outside the subscribe list is delivered")
	}
	none, _ := Compile(Permissions{})
	if none.MayPublish("a") || none.MaySubscribe("a") || none.CanPublish() || none.CanSubscribe() {
		t.Error("empty permissions allow something")
	}
	var open *Perms
	if !open.MayPublish("a") || !open.MaySubscribe(">") || !open.MayReceive("x") {
		t.Error("nil permissions do not allow everything")
	}
	if _, err := Compile(Permissions{Publish: []string{"a..b"}}); err == nil {
		t.Error("a bad pattern compiled")
	}
}
