package sdk

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxChallengeBytes bounds the Challenge text a Rejection carries; the rest of a longer one is cut off.
const MaxChallengeBytes = 4 << 10

// Rejection says why the upstream refused a token.
type Rejection struct {
	// Status is the HTTP status: 401, or 403 for insufficient_scope.
	Status int
	// Challenge is the response's WWW-Authenticate values, joined with ", ". It is untrusted text: the
	// host strips control characters and cuts it at MaxChallengeBytes; read it with ParseChallenges.
	Challenge string
}

// RejectionAware is implemented by a Source whose Refresh uses why the upstream refused the token.
type RejectionAware interface {
	// RefreshRejected is Refresh for a token the upstream refused for the reason why (a scope step-up, a
	// claims challenge); it returns a token other than rejected, or an error.
	RefreshRejected(ctx context.Context, rejected Token, why Rejection) (Token, error)
}

// NewRejection builds the Rejection of a response with the given status and WWW-Authenticate values,
// joined with ", ", with control characters and invalid UTF-8 removed and cut at MaxChallengeBytes.
func NewRejection(status int, challenges []string) Rejection {
	return Rejection{Status: status, Challenge: cleanChallenge(strings.Join(challenges, ", "))}
}

// refreshRejected asks src for a token other than rejected: through RefreshRejected when src implements
// RejectionAware and why names a status, through Refresh otherwise.
func refreshRejected(ctx context.Context, src Source, rejected Token, why Rejection) (Token, error) {
	if ra, ok := src.(RejectionAware); ok && why.Status != 0 {
		return ra.RefreshRejected(ctx, rejected, why)
	}
	return src.Refresh(ctx, rejected)
}

// cleanChallenge drops invalid UTF-8 and control characters (a tab becomes a space) from s and cuts it,
// on a character boundary, at MaxChallengeBytes.
func cleanChallenge(s string) string {
	if len(s) > 4*MaxChallengeBytes {
		s = s[:4*MaxChallengeBytes]
	}
	var b strings.Builder
	b.Grow(min(len(s), MaxChallengeBytes))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			continue
		case r == '\t':
			r = ' '
		case unicode.IsControl(r):
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxChallengeBytes {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
