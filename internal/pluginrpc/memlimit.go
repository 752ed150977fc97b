package pluginrpc

import (
	"os"
	"runtime/debug"
)

// pluginMemoryLimit is the soft memory limit of a plugin process whose environment sets no GOMEMLIMIT.
//
// A plugin is a small helper: its live heap after Configure and a Token call is 1–2 MiB (gateway, codex,
// gemini) to about 5 MiB (azure, with the system's CA certificates loaded), and no GC runs while it starts,
// since the heap stays under the runtime's 4 MiB minimum target. So GOGC stays at its default: a lower one
// measured +0.6–1 MiB resident and slower starts, GOGC=off no change (docs/benchmarks.md). The limit only
// matters if a plugin's heap grows several times past that — a burst of large responses, a leak — when the
// runtime collects more often instead of letting the heap double; it is soft, so an allocation never
// fails because of it. To give a plugin another limit, set GOMEMLIMIT in the host's environment and list
// it in the provider's env.
const pluginMemoryLimit = 32 << 20

// limitMemory sets pluginMemoryLimit unless GOMEMLIMIT is set, which the runtime has applied already.
func limitMemory() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	debug.SetMemoryLimit(pluginMemoryLimit)
}
