package gateway

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// Token type URIs of RFC 8693 §3.
const (
	tokenTypeJWT    = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypePrefix = "urn:ietf:params:oauth:token-type:"
)

// secretSource is where a subject token, actor token or assertion comes from; it is read on every use,
// since such tokens rotate (a Kubernetes projected token is rewritten at about 80 % of its lifetime).
type secretSource struct {
	option  string   // the option that names it, for messages
	file    string   // re-read on every use
	env     string   // the variable's name
	command []string // argv; prints the token
	cmdEnv  []string // helper_env: more variables the command sees
	timeout time.Duration
}

// read returns the current value.
func (s secretSource) read(ctx context.Context) (string, error) {
	switch {
	case s.file != "":
		data, err := credfile.ReadLimited(s.file)
		if err != nil {
			return "", sdk.Unavailable("cannot read %s: %s; check that whatever writes it is running", s.describe(), fsmsg.Reason(err))
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", sdk.Unavailable("%s is empty; check that whatever writes it is running", s.describe())
		}
		return v, nil
	case s.env != "":
		v := strings.TrimSpace(os.Getenv(s.env))
		if v == "" {
			return "", sdk.BadConfig(s.option, "the environment variable %s is empty or not set", s.env)
		}
		return v, nil
	case len(s.command) > 0:
		out, err := runCommand(ctx, s.command, s.cmdEnv, s.timeout, s.option)
		if err != nil {
			return "", err
		}
		r, err := parseHelperOutput(out, time.Now())
		if err != nil {
			return "", sdk.Unavailable("%s %s printed %s; it must print a token", s.option, s.command[0], err)
		}
		return r.access, nil
	}
	return "", nil
}

// describe names the source for messages.
func (s secretSource) describe() string {
	switch {
	case s.file != "" && sdk.IsSecretKey(s.option):
		return "the " + s.option // its value counts as a secret (assertion_file), so the path is not shown
	case s.file != "":
		return "the file " + s.file + " (" + s.option + ")"
	case s.env != "":
		return "the environment variable " + s.env
	case len(s.command) > 0:
		return "the command " + s.command[0]
	}
	return "nowhere"
}

// parseSource reads prefix_file, prefix_env and prefix_command (when allowed); at most one may be set.
func parseSource(o sdk.Options, prefix string, withEnv, withCommand bool, timeout time.Duration) (secretSource, error) {
	s := secretSource{timeout: timeout}
	n := 0
	var err error
	if s.file, err = o.String(prefix+"_file", ""); err != nil {
		return s, err
	}
	if s.file != "" {
		s.option, n = prefix+"_file", n+1
	}
	if withEnv {
		if s.env, err = o.String(prefix+"_env", ""); err != nil {
			return s, err
		}
		if s.env != "" {
			s.option, n = prefix+"_env", n+1
		}
	}
	if withCommand {
		if s.command, err = o.Strings(prefix + "_command"); err != nil {
			return s, err
		}
		if len(s.command) > 0 {
			s.option, n = prefix+"_command", n+1
		}
	}
	if n > 1 {
		return s, sdk.BadConfig(prefix+"_file", "give %s from one source only", prefix)
	}
	return s, nil
}

// tokenExchange is RFC 8693 token exchange.
type tokenExchange struct {
	subject, actor       secretSource
	subjectType          string
	actorType, requested string
}

func parseTokenExchange(o sdk.Options, c *config) (grant, error) {
	g := &tokenExchange{}
	var err error
	if g.subject, err = parseSource(o, "subject_token", true, true, c.timeout); err != nil {
		return nil, err
	}
	if g.subject.cmdEnv, err = helperEnvOption(o); err != nil {
		return nil, err
	}
	if g.subject.option == "" {
		return nil, sdk.BadConfig("subject_token_file", "token_exchange needs a subject token: subject_token_file, subject_token_env or subject_token_command")
	}
	if g.actor, err = parseSource(o, "actor_token", false, false, c.timeout); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		key, def string
		dst      *string
	}{{"subject_token_type", tokenTypeJWT, &g.subjectType}, {"actor_token_type", "", &g.actorType}, {"requested_token_type", "", &g.requested}} {
		v, err := o.String(t.key, t.def)
		if err != nil {
			return nil, err
		}
		if v != "" && !strings.Contains(v, ":") {
			v = tokenTypePrefix + v // "jwt", "access_token", "id_token" as short forms
		}
		*t.dst = v
	}
	if g.actor.file != "" && g.actorType == "" {
		g.actorType = tokenTypeJWT
	}
	return g, nil
}

func (*tokenExchange) name() string { return grantTokenExchange }

func (g *tokenExchange) fetch(ctx context.Context, c *config, _ string) (sdk.Token, error) {
	subject, err := g.subject.read(ctx)
	if err != nil {
		return sdk.Token{}, err
	}
	f := c.form("urn:ietf:params:oauth:grant-type:token-exchange")
	f.Set("subject_token", subject)
	f.Set("subject_token_type", g.subjectType)
	if g.actor.file != "" {
		actor, err := g.actor.read(ctx)
		if err != nil {
			return sdk.Token{}, err
		}
		f.Set("actor_token", actor)
		f.Set("actor_token_type", g.actorType)
	}
	if g.requested != "" {
		f.Set("requested_token_type", g.requested)
	}
	return c.hiding(subject).fetchToken(ctx, f)
}

// refused: the subject token was not accepted, typically because it expired or names the wrong audience.
func (g *tokenExchange) refused(ep, detail string) error {
	return sdk.ReauthRequired("token endpoint %s refused the subject token from %s (%s); it may have expired or be meant for another audience: check that whatever writes it keeps it fresh", ep, g.subject.describe(), detail)
}

// jwtBearer is the RFC 7523 §2.1 jwt-bearer grant: an assertion from a file, or signed here.
type jwtBearer struct {
	file   secretSource
	claims claims
}

func parseJWTBearer(o sdk.Options, c *config) (grant, error) {
	g := &jwtBearer{}
	var err error
	if g.file, err = parseSource(o, "assertion", false, false, c.timeout); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		key string
		dst *string
	}{{"assertion_iss", &g.claims.iss}, {"assertion_sub", &g.claims.sub}, {"assertion_aud", &g.claims.aud}} {
		if *t.dst, err = o.String(t.key, ""); err != nil {
			return nil, err
		}
	}
	signing := c.auth.key != nil && c.auth.method != authJWT
	switch {
	case g.file.file != "" && (signing || g.claims.iss != ""):
		return nil, sdk.BadConfig("assertion_file", "give the assertion as a file or sign it with private_key_file, not both")
	case g.file.file == "" && c.auth.key == nil:
		return nil, sdk.BadConfig("assertion_file", "jwt_bearer needs an assertion: assertion_file, or private_key_file with assertion_iss to sign one")
	case g.file.file == "" && g.claims.iss == "":
		g.claims.iss = c.auth.id
		if g.claims.iss == "" {
			return nil, sdk.BadConfig("assertion_iss", "is required to sign an assertion (or set client_id)")
		}
	}
	if g.claims.sub == "" {
		g.claims.sub = g.claims.iss
	}
	return g, nil
}

func (*jwtBearer) name() string { return grantJWTBearer }

func (g *jwtBearer) fetch(ctx context.Context, c *config, _ string) (sdk.Token, error) {
	var assertion string
	var err error
	if g.file.file != "" {
		assertion, err = g.file.read(ctx)
	} else {
		cl := g.claims
		if cl.aud == "" {
			if cl.aud, err = c.endpoints.token(ctx, c); err != nil {
				return sdk.Token{}, err
			}
		}
		assertion, err = c.auth.key.sign(cl, time.Now())
	}
	if err != nil {
		return sdk.Token{}, err
	}
	f := c.form("urn:ietf:params:oauth:grant-type:jwt-bearer")
	f.Set("assertion", assertion)
	return c.hiding(assertion).fetchToken(ctx, f)
}

func (g *jwtBearer) refused(ep, detail string) error {
	if g.file.file != "" {
		return sdk.ReauthRequired("token endpoint %s refused the assertion from %s (%s); it may have expired: check that whatever writes it keeps it fresh", ep, g.file.describe(), detail)
	}
	return sdk.BadConfig("private_key_file", "token endpoint %s refused the signed assertion (%s); check assertion_iss, assertion_sub, assertion_aud, kid and that the key is registered", ep, detail)
}
