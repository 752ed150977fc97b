//go:build unix && !linux

package config

// readOnlyMount reports false: outside Linux the mode bits alone decide.
func readOnlyMount(string) bool { return false }
