// Package api stands in for step-runner's socket helpers.
package api

import (
	"net"
	"os"
	"path/filepath"
)

// SocketAddr is the unix socket address for path.
func SocketAddr(path string) *net.UnixAddr {
	return &net.UnixAddr{Name: path, Net: "unix"}
}

// DefaultSocketPath is where a step-runner socket would live.
func DefaultSocketPath() string {
	return filepath.Join(os.TempDir(), "step-runner.sock")
}
