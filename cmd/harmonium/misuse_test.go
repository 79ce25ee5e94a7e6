package main

import (
	"strings"
	"testing"
)

// TestFlagMisuse checks flag values that were once accepted without a
// word: each must be a usage error (exit 2) naming the flag, before any
// file is read.
func TestFlagMisuse(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"compare", "--model", "=m.safetensors"}, "--model"},
		{[]string{"compare", "--model", "m="}, "--model"},
		{[]string{"finetune", "--model", "dbn.safetensors", "--optimizer", "adam", "--momentum", "0.5"}, "--momentum"},
		{[]string{"dbn", "updown", "--model", "dbn.safetensors", "--out", "ud.safetensors", "--lr", "Inf"}, "--lr"},
	} {
		code, _, errs := harmonium(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.flag) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%s: exit %d, %q; want a one-line usage error naming %s", strings.Join(c.args, " "), code, errs, c.flag)
		}
	}
}
