// Package memguard refuses work that would need more memory than the
// machine has, before anything large is allocated: a one-line error with
// the figures instead of an out-of-memory crash.
package memguard

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// EnvLimit names the environment variable that sets the limit explicitly,
// e.g. HARMONIUM_MEMORY_LIMIT=8G (suffixes K, M, G, T; plain bytes without).
const EnvLimit = "HARMONIUM_MEMORY_LIMIT"

// ErrTooLarge is wrapped by the errors of Check.
var ErrTooLarge = errors.New("not enough memory")

// Limit returns the number of bytes a command may plan to use: the value of
// HARMONIUM_MEMORY_LIMIT when set, else the memory the kernel reports as
// available. ok is false when neither is known (no check is made then).
func Limit() (limit float64, ok bool, err error) {
	if s := strings.TrimSpace(os.Getenv(EnvLimit)); s != "" {
		v, err := ParseSize(s)
		if err != nil {
			return 0, false, fmt.Errorf("%s=%q: %w", EnvLimit, s, err)
		}
		return v, true, nil
	}
	v, ok := available()
	return v, ok, nil
}

// Check returns an error wrapping ErrTooLarge when need bytes exceed the
// limit; what names the work, as in "training a 784-500 RBM".
func Check(what string, need float64) error {
	limit, ok, err := Limit()
	if err != nil {
		return err
	}
	if !ok || need <= limit {
		return nil
	}
	return fmt.Errorf("%w: %s needs about %s, and %s are available (set %s to change the limit)",
		ErrTooLarge, what, Format(need), Format(limit), EnvLimit)
}

// available reads MemAvailable from /proc/meminfo.
func available() (float64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

// ParseSize reads a size such as 512M, 8G or 1.5T (powers of 1024), or a
// plain number of bytes.
func ParseSize(s string) (float64, error) {
	mult := 1.0
	u := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I"))
	if u != "" {
		if i := strings.IndexByte("KMGT", u[len(u)-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			u = u[:len(u)-1]
		}
	}
	v, err := strconv.ParseFloat(u, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, errors.New("not a size (want bytes, or a number with K, M, G or T)")
	}
	return v * mult, nil
}

// Format writes a byte count for people: 1.5 GB, 300 MB.
func Format(b float64) string {
	switch {
	case b >= 1<<40:
		return fmt.Sprintf("%.1f TB", b/(1<<40))
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f KB", b/(1<<10))
}
