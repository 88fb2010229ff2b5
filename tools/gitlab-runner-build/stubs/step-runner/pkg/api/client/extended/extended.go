// Package extended stands in for step-runner's streaming client. New always
// fails: CI steps are not supported in this build.
package extended

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	"gitlab.com/gitlab-org/step-runner/pkg/api/client"
)

// ErrNotSupported is returned by every entry point.
var ErrNotSupported = errors.New("CI steps are not supported in this gitlab-runner build (step-runner stand-in)")

// Dialer opens the gRPC connection to a step-runner.
type Dialer interface {
	Dial() (*grpc.ClientConn, error)
}

// FollowOutput receives a step run's log.
type FollowOutput struct {
	Logs io.Writer
}

// Client would talk to a step-runner.
type Client struct{}

// New always fails with ErrNotSupported.
func New(Dialer) (*Client, error) { return nil, ErrNotSupported }

// CloseConn does nothing.
func (*Client) CloseConn() error { return nil }

// Cancel always fails with ErrNotSupported.
func (*Client) Cancel(context.Context, string) error { return ErrNotSupported }

// RunAndFollow always fails with ErrNotSupported.
func (*Client) RunAndFollow(context.Context, *client.RunRequest, *FollowOutput) (client.Status, error) {
	return client.Status{}, ErrNotSupported
}
