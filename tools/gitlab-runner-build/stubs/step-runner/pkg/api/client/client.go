// Package client stands in for step-runner's client types. The runner builds
// requests and reads statuses with them; no request is ever sent in this build.
package client

import "time"

// Variable is one job variable passed to a step run.
type Variable struct {
	Key    string
	Value  string
	File   bool
	Masked bool
}

// RunRequest describes one step run.
type RunRequest struct {
	Id        string //nolint:revive // the runner's call sites use this spelling
	Timeout   *time.Duration
	WorkDir   string
	BuildDir  string
	Env       map[string]string
	Steps     string
	Variables []Variable
}

// State is the end state of a step run.
type State int

const (
	StateUnspecified State = iota
	StateRunning
	StateSuccess
	StateFailure
	StateCancelled
)

func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateSuccess:
		return "success"
	case StateFailure:
		return "failure"
	case StateCancelled:
		return "cancelled"
	default:
		return "unspecified"
	}
}

// ErrorKind classifies a failed step run.
type ErrorKind int

const (
	ErrorUnspecified ErrorKind = iota
	ErrorInternal
	ErrorStepFailure
	ErrorCancelled
	ErrorTimeout
	ErrorUnknown
)

// Status is what a step run reports.
type Status struct {
	State     State
	Message   string
	ErrorKind ErrorKind
}
