// Package moa stands in for GitLab's moa expression language, which the
// runner uses for job inputs and to escape step inputs.
package moa

import (
	"errors"
	"strings"

	"gitlab.com/gitlab-org/moa/ast"
)

// ParseTemplate always fails: job input expressions are not supported in this build.
func ParseTemplate(string) (ast.Expr, error) {
	return nil, errors.New("job input expressions are not supported in this gitlab-runner build")
}

// EscapeTemplate escapes the template opener so text is taken literally.
func EscapeTemplate(text string) string {
	return strings.ReplaceAll(text, "${{", "$${{")
}
