package optval

import (
	"math"
	"math/big"
	"regexp"
	"strings"
	"sync"
)

// sizeNumber is the number part of a size: decimal digits with an optional fraction. It is compiled on
// first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var sizeNumber = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`) })

// sizeUnits are the suffixes a size may carry (matched without regard to case): IEC units are powers of
// 1024, SI units powers of 1000.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// parseSize parses a byte count written as a number with an optional unit: "1024", "1024B", "512KiB",
// "16MiB", "1GiB", "100KB", "10MB", "1.5GiB". The result must be a whole number of bytes that fits int64.
func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	if len(s) > 40 || !sizeNumber().MatchString(s) {
		return 0, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() || r.Num().Cmp(big.NewInt(math.MaxInt64)) > 0 {
		return 0, false
	}
	return r.Num().Int64(), true
}
