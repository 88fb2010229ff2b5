// Package api stands in for the runner wrapper's gRPC API, a nested module
// that the proxy's zip of gitlab-runner does not contain. The wrapper command
// is removed from this build's main.go; these names only let the runner's
// wrapper package compile.
package api

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"
)

// ErrProcessNotInitialized: the wrapped process has not started.
var ErrProcessNotInitialized = errors.New("process not initialized")

// Status is the wrapped process's state.
type Status int

const (
	StatusUnknown Status = iota
	StatusRunning
	StatusInShutdown
	StatusStopped
)

// ShutdownCallbackDef says where to report the end of a shutdown.
type ShutdownCallbackDef interface {
	URL() string
	Method() string
}

// InitGracefulShutdownRequest asks for a graceful shutdown.
type InitGracefulShutdownRequest interface {
	ShutdownCallbackDef() ShutdownCallbackDef
}

// ShutdownCallback reports the end of a shutdown.
type ShutdownCallback interface {
	Run(ctx context.Context)
}

type noCallback struct{ log logrus.FieldLogger }

func (c noCallback) Run(context.Context) {
	c.log.Warn("shutdown callbacks are not supported in this gitlab-runner build")
}

// NewShutdownCallback returns a callback that only logs.
func NewShutdownCallback(log logrus.FieldLogger, _ ShutdownCallbackDef) ShutdownCallback {
	return noCallback{log: log}
}

func (s Status) String() string {
	return [...]string{"unknown", "running", "in_shutdown", "stopped"}[s]
}
