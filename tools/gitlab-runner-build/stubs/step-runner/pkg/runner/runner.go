// Package runner stands in for step-runner's built-in function interface,
// which the gitlab-runner's step functions implement.
package runner

import (
	"context"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"gitlab.com/gitlab-org/step-runner/proto"
)

// Kind is the expected kind of an input.
type Kind int

const (
	KindString Kind = iota
	KindNumber
	KindBool
	KindList
	KindStruct
)

// BuiltinResult is what a built-in function returns.
type BuiltinResult struct{}

// BuiltinContext is what a built-in function can read while it runs.
type BuiltinContext interface {
	GetInput(name string, kind Kind) (*structpb.Value, error)
	GetInputWithDefault(name string, kind Kind, inputs map[string]*proto.Spec_Content_Input) (*structpb.Value, error)
	ListenCancel(ctx context.Context) (context.Context, context.CancelFunc)
	GetJobVars() map[string]*structpb.Value
	GetEnvs() map[string]string
	GetEnvList() []string
	Pipe() (io.Writer, io.Writer)
	WorkDir() string
	GracefulExitDelay() time.Duration
}

// BuiltinFunction is a function the step-runner can call by name.
type BuiltinFunction interface {
	Spec() *proto.Spec
	Run(ctx context.Context, builtinCtx BuiltinContext) (BuiltinResult, error)
}
