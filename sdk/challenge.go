package sdk

import "strings"

// Challenge is one authentication challenge of a WWW-Authenticate header (RFC 9110 section 11.6.1).
type Challenge struct {
	// Scheme is the auth-scheme as sent, e.g. "Bearer"; compare it with strings.EqualFold.
	Scheme string
	// Token68 is the challenge's token68 form, when it has one instead of parameters.
	Token68 string
	// Params are the auth-params, names lower-cased, quoted values unescaped; the first of a repeated name wins.
	Params map[string]string
}

// ParseChallenges reads the challenges in s, one or more WWW-Authenticate values joined with ", ". It
// never fails: a part it cannot read is skipped, and an unterminated quoted string ends the input.
func ParseChallenges(s string) []Challenge {
	p := challengeParser{s: s}
	var out []Challenge
	for {
		p.skip(", \t")
		if p.i >= len(p.s) {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			p.skipItem()
			continue
		}
		c := Challenge{Scheme: scheme}
		if p.spaces() {
			if t68, ok := p.token68(); ok {
				c.Token68 = t68
			} else {
				p.params(&c)
			}
		}
		out = append(out, c)
	}
}

// InsufficientScope reports whether challenge (WWW-Authenticate values joined with ", ") holds a Bearer
// challenge whose error is insufficient_scope (RFC 6750 section 3.1).
func InsufficientScope(challenge string) bool {
	for _, c := range ParseChallenges(challenge) {
		if strings.EqualFold(c.Scheme, "Bearer") && c.Params["error"] == "insufficient_scope" {
			return true
		}
	}
	return false
}

type challengeParser struct {
	s string
	i int
}

// params reads auth-params into c until the input ends or the next challenge's scheme begins.
func (p *challengeParser) params(c *Challenge) {
	for p.i < len(p.s) {
		start := p.i
		name := p.token()
		if name == "" {
			p.skipItem()
			p.skip(", \t")
			continue
		}
		p.skip(" \t")
		if p.i >= len(p.s) || p.s[p.i] != '=' {
			p.i = start // a new challenge begins here
			return
		}
		p.i++
		p.skip(" \t")
		var value string
		if p.i < len(p.s) && p.s[p.i] == '"' {
			v, ok := p.quoted()
			if !ok {
				return
			}
			value = v
		} else {
			value = p.token()
		}
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		if name = strings.ToLower(name); !hasKey(c.Params, name) {
			c.Params[name] = value
		}
		p.skip(" \t")
		if p.i < len(p.s) && p.s[p.i] != ',' {
			p.skipItem()
		}
		p.skip(", \t")
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// token reads an RFC 9110 token (possibly empty).
func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads a token68 that is the whole of the challenge's remainder up to a comma or the end; it
// leaves the position unchanged when there is none.
func (p *challengeParser) token68() (string, bool) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	end := j
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return "", false
	}
	t := p.s[p.i:end]
	p.i = j
	return t, true
}

// quoted reads a quoted-string starting at its opening quote; ok is false (and the input consumed) when
// it is not terminated.
func (p *challengeParser) quoted() (string, bool) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		switch ch := p.s[p.i]; ch {
		case '"':
			p.i++
			return b.String(), true
		case '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", false
			}
			b.WriteByte(p.s[p.i])
		default:
			b.WriteByte(ch)
		}
	}
	return "", false
}

// spaces skips at least one space or tab and reports whether there was one.
func (p *challengeParser) spaces() bool {
	start := p.i
	p.skip(" \t")
	return p.i > start
}

func (p *challengeParser) skip(set string) {
	for p.i < len(p.s) && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

// skipItem moves past the current list item to the next comma (outside quoted strings) or the end, and
// always past at least one byte.
func (p *challengeParser) skipItem() {
	if p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '"' {
		p.i++
	}
	for p.i < len(p.s) && p.s[p.i] != ',' {
		if p.s[p.i] == '"' {
			if _, ok := p.quoted(); !ok {
				return
			}
			continue
		}
		p.i++
	}
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}
