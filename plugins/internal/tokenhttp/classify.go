package tokenhttp

import "github.com/tokenhost/tokenhost/sdk/tokenkit"

// The OAuth error classification lives in sdk/tokenkit, where external plugins can use it too; these names
// keep the built-ins' call sites short.
var (
	// Classify is tokenkit.Classify: the kind of a token endpoint's error answer.
	Classify = tokenkit.Classify
	// SafeCode is tokenkit.SafeCode: an endpoint's error code when it is safe to quote, else "".
	SafeCode = tokenkit.SafeCode
	// Transient is tokenkit.Transient: whether an HTTP status says "try again later".
	Transient = tokenkit.Transient
	// Display is tokenkit.Display: scheme://host/path of a URL, the part that is safe to show.
	Display = tokenkit.Display
)
