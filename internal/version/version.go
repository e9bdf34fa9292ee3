// Package version holds the build's version, set by the Makefile with
// -ldflags "-X github.com/openchoreo/obsplane/internal/version.Version=...".
package version

// Version is the obsplane release or git describe output.
var Version = "dev"
