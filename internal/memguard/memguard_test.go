package memguard

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]float64{"512": 512, "2K": 2048, "1.5G": 1.5 * (1 << 30), "8gb": 8 << 30, "3MiB": 3 << 20, "1t": 1 << 40} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "-1G", "0", "lots", "NaNG", "InfM"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestCheckUsesTheLimit(t *testing.T) {
	t.Setenv(EnvLimit, "1G")
	if err := Check("small work", 100<<20); err != nil {
		t.Fatal(err)
	}
	err := Check("training a 10000000-500 RBM", 40e9)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "37.3 GB") || !strings.Contains(err.Error(), "1.0 GB") ||
		!strings.Contains(err.Error(), EnvLimit) {
		t.Fatalf("Check over the limit: %v", err)
	}
	t.Setenv(EnvLimit, "much")
	if err := Check("x", 1); err == nil || !strings.Contains(err.Error(), EnvLimit) {
		t.Fatalf("bad limit accepted: %v", err)
	}
}

func TestAvailableIsReadOnLinux(t *testing.T) {
	t.Setenv(EnvLimit, "")
	v, ok, err := Limit()
	if err != nil {
		t.Fatal(err)
	}
	if ok && v < 1<<20 {
		t.Fatalf("available memory %g bytes", v)
	}
	if err := Check("anything", 1e18); ok && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("an exabyte passed the check: %v", err)
	}
}
