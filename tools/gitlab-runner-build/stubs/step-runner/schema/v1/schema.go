// Package schema stands in for step-runner's step schema: the runner only
// carries steps through JSON/YAML and never runs them in this build.
package schema

// Step is one CI step as the runner passes it around.
type Step struct {
	Name   *string    `json:"name,omitempty" yaml:"name,omitempty"`
	Step   string     `json:"step,omitempty" yaml:"step,omitempty"`
	Inputs StepInputs `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	Run    []Step     `json:"run,omitempty" yaml:"run,omitempty"`
}

// StepInputs are a step's named inputs.
type StepInputs map[string]any
