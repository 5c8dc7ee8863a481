package main

import (
	"fmt"
	"time"

	"github.com/switchboard-hub/switchboard/internal/history"
)

// historyTable is one [[history]] table of the config file: a
// per-pattern retention rule, the same as one --history-rule.
//
//	[[history]]
//	pattern = "alerts.>"
//	keep = 1000
//	max-age = "24h"
//	policy = "drop-oldest" # optional
type historyTable struct {
	Pattern string `toml:"pattern"`
	Keep    *int   `toml:"keep"`
	MaxAge  string `toml:"max-age"`
	Policy  string `toml:"policy"`
}

// rule checks the table and returns its rule.
func (h historyTable) rule() (history.Rule, error) {
	if h.Pattern == "" {
		return history.Rule{}, fmt.Errorf("pattern is required")
	}
	if h.Keep == nil {
		return history.Rule{}, fmt.Errorf("keep is required (0 keeps nothing)")
	}
	r := history.Rule{Pattern: h.Pattern, Keep: *h.Keep}
	if h.MaxAge != "" {
		d, err := time.ParseDuration(h.MaxAge)
		if err != nil || d <= 0 {
			return history.Rule{}, fmt.Errorf("max-age %q: want a positive duration such as \"10m\" or \"24h\"", h.MaxAge)
		}
		r.MaxAge = d
	}
	if h.Policy != "" {
		p, err := history.ParsePolicy(h.Policy)
		if err != nil {
			return history.Rule{}, err
		}
		r.Policy = p
	}
	if err := r.Validate(); err != nil {
		return history.Rule{}, err
	}
	return r, nil
}

// historyRules returns the rules of the [[history]] tables, in file
// order, or the first table's problem, naming the table by its place.
func (t *fileTables) historyRules() ([]history.Rule, error) {
	var rules []history.Rule
	for i, h := range t.History {
		r, err := h.rule()
		if err != nil {
			return nil, fmt.Errorf("config file: [[history]] table %d (pattern %q): %w", i+1, h.Pattern, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}
