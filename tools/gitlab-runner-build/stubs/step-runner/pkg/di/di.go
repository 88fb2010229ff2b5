// Package di stands in for step-runner's service container. The service
// cannot be built: CI steps are not supported in this build.
package di

import (
	"errors"
	"log/slog"

	"gitlab.com/gitlab-org/step-runner/pkg/runner"
	"gitlab.com/gitlab-org/step-runner/proto"
)

// Container collects the service's options.
type Container struct{}

// NewContainer applies opts.
func NewContainer(opts ...func(*Container)) *Container {
	c := &Container{}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// WithBuiltinFunc would register a built-in function.
func WithBuiltinFunc(string, runner.BuiltinFunction) func(*Container) { return func(*Container) {} }

// WithOperatorLogger would set the operator logger.
func WithOperatorLogger(*slog.Logger) func(*Container) { return func(*Container) {} }

// StepRunnerService always fails.
func (*Container) StepRunnerService() (proto.StepRunnerServer, error) {
	return nil, errors.New("the step-runner service is not supported in this gitlab-runner build")
}
