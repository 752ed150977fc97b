package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/tokenhost/tokenhost/sdk"
)

// store renders the store block: the URL without its password, and the encryption key only as the
// variable or file it comes from.
func (s *shower) store(st Store) {
	const at = "store"
	s.b.WriteString("store:\n")
	s.line(1, "backend", st.Backend, at+".backend")
	if !st.Shared() {
		return
	}
	s.line(1, "url", render(redactStoreURL(st.URL)), at+".url")
	s.line(1, "key_prefix", render(st.KeyPrefix), at+".key_prefix")
	switch env, file := s.merged.Get(at+".encryption_key_env"), s.merged.Get(at+".encryption_key_file"); {
	case env != nil:
		name := fmt.Sprint(env)
		if !envVarName().MatchString(name) {
			name = "(a name not shown: it does not look like a variable name)"
		}
		s.line(1, "encryption_key", "<redacted from env "+name+">", at+".encryption_key_env")
	case file != nil:
		s.line(1, "encryption_key", fmt.Sprintf("<redacted from file %v>", file), at+".encryption_key_file")
	}
	s.line(1, "dial_timeout", render(st.DialTimeout), at+".dial_timeout")
	s.line(1, "timeout", render(st.Timeout), at+".timeout")
}

// redactStoreURL returns a store URL with its password, and any query parameter that names a password or
// another secret (sentinel_password), replaced by REDACTED.
func redactStoreURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<redacted: not a URL>"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q, changed := u.Query(), false
	for k := range q {
		if sdk.IsSecretKey(k) || strings.Contains(strings.ToLower(k), "password") {
			q[k], changed = []string{"REDACTED"}, true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
