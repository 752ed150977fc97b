package config

import (
	"slices"
	"strings"
)

// SecretVars returns the names of the environment variables the configuration reads values from, sorted
// and without duplicates: the value of every *_env option of every provider at any depth (resolved secrets
// such as client_secret_env, the ones a plugin reads itself such as key_env and subject_token_env, every
// name of a list such as helper_env, and any other X_env), and store.encryption_key_env. A program that
// starts another one on the user's behalf (`tokenhost run`) leaves them out of its environment.
func (c *Config) SecretVars() []string {
	return slices.Clone(c.secretVars)
}

// noteEnvVars records the variable names an *_env option's value v holds: one name, or a list of them.
// Anything else is not a name and is left to the checks of the option itself.
func (d *decoder) noteEnvVars(v any) {
	switch t := v.(type) {
	case string:
		if n := strings.TrimSpace(t); n != "" {
			d.secretVars = append(d.secretVars, n)
		}
	case []any:
		for _, e := range t {
			d.noteEnvVars(e)
		}
	case []string:
		for _, e := range t {
			d.noteEnvVars(e)
		}
	}
}

// envOption reports whether the options key k names environment variables (ends in _env).
func envOption(k string) bool {
	return strings.HasSuffix(strings.ToLower(k), "_env")
}

// secretVarList returns the recorded names, sorted and without duplicates.
func (d *decoder) secretVarList() []string {
	out := slices.Clone(d.secretVars)
	slices.Sort(out)
	return slices.Compact(out)
}
