package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
)

// printGroupToken prints the token of the first member of group gc that gives one, in the order listed,
// skipping members cooling down after a 429 (known here with a fleet store); the JSON form names that
// member. With none, the error says why each member gave no token.
func printGroupToken(ctx context.Context, g *globals, h *core.Host, gc *config.Group, f tokenFormat) error {
	cooling := map[string]string{}
	for _, st := range h.Groups() {
		if st.Name != gc.Name {
			continue
		}
		for _, m := range st.Members {
			if !m.CoolingUntil.IsZero() {
				cooling[m.Provider] = fmt.Sprintf("rate limited until %s (%s)", m.CoolingUntil.Format(time.TimeOnly), m.CoolingSource)
			}
		}
	}
	var why []string
	for _, m := range gc.Members {
		if c, ok := cooling[m.Provider]; ok {
			why = append(why, m.Provider+": "+c)
			continue
		}
		var out bytes.Buffer
		member := *g
		member.stdout = &out
		err := printToken(ctx, &member, h, m.Provider, f)
		if err == nil {
			_, err = g.stdout.Write(out.Bytes())
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		why = append(why, oneLine(err.Error()))
	}
	return fmt.Errorf("group %s: no member gave a token: %s", gc.Name, strings.Join(why, "; "))
}

// groupRows are `check`'s lines for the groups: each member's result from the providers' rows, and whether
// the group has a usable member.
func groupRows(h *core.Host, ok map[string]bool) []string {
	var out []string
	for _, st := range h.Groups() {
		var members []string
		usable := 0
		for _, m := range st.Members {
			state := "FAIL"
			switch {
			case !m.CoolingUntil.IsZero():
				state = "cooling until " + m.CoolingUntil.Format(time.TimeOnly)
			case ok[m.Provider]:
				state, usable = "ok", usable+1
			}
			members = append(members, m.Provider+" "+state)
		}
		status := "ok"
		if usable == 0 {
			status = "FAIL"
		}
		out = append(out, fmt.Sprintf("%s\t%s\t%s\t%d of %d\t%s", st.Name, st.Strategy, status, usable, len(st.Members), strings.Join(members, ", ")))
	}
	return out
}

// okRows maps each row's provider to whether its check passed.
func okRows[R any](rows []R, f func(R) (string, bool)) map[string]bool {
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		name, ok := f(r)
		out[name] = ok
	}
	return out
}
