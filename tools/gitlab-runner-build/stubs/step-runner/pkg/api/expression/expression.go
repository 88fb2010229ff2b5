// Package expression stands in for step-runner's expression evaluator, which
// the runner uses for job inputs. Evaluation is not supported in this build.
package expression

import (
	"errors"

	"gitlab.com/gitlab-org/moa/ast"
	"gitlab.com/gitlab-org/moa/value"
)

// Sensitive marks a value that must not reach a log.
const Sensitive uint16 = 1

// Input is one named job input.
type Input struct {
	Key   string
	Value value.Value
}

// Evaluator would evaluate expressions against a context value.
type Evaluator struct{}

// NewEvaluator accepts any context.
func NewEvaluator(value.Value) (*Evaluator, error) { return &Evaluator{}, nil }

// Eval always fails.
func (*Evaluator) Eval(string, ast.Expr) (value.Value, error) {
	return value.Null(), errors.New("job input expressions are not supported in this gitlab-runner build")
}
