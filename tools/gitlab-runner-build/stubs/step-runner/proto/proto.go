// Package proto stands in for step-runner's protocol types: the specs the
// runner's built-in functions declare, and the service registration.
package proto

import (
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// ValueType is the type of a step input.
type ValueType int32

const (
	ValueType_string  ValueType = iota //nolint:revive // the runner's call sites use these names
	ValueType_number                   //nolint:revive
	ValueType_boolean                  //nolint:revive
	ValueType_struct                   //nolint:revive
	ValueType_array                    //nolint:revive
)

// Spec_Content_Input declares one input.
type Spec_Content_Input struct { //nolint:revive
	Type      ValueType
	Default   *structpb.Value
	Sensitive bool
}

// Spec_Content is a function's declared inputs.
type Spec_Content struct { //nolint:revive
	Inputs map[string]*Spec_Content_Input
}

// GetInputs returns the declared inputs.
func (c *Spec_Content) GetInputs() map[string]*Spec_Content_Input {
	if c == nil {
		return nil
	}
	return c.Inputs
}

// Spec is a function's specification.
type Spec struct {
	Spec *Spec_Content
}

// GetSpec returns the content.
func (s *Spec) GetSpec() *Spec_Content {
	if s == nil {
		return nil
	}
	return s.Spec
}

// StepRunnerServer is the step-runner gRPC service.
type StepRunnerServer interface{}

// RegisterStepRunnerServer registers nothing: there is no service in this build.
func RegisterStepRunnerServer(grpc.ServiceRegistrar, StepRunnerServer) {}
