// Package ast stands in for moa's syntax tree.
package ast

// Expr is a parsed expression.
type Expr interface {
	Walk(v Visitor) (Expr, error)
}

// Visitor is called on entering and leaving each node.
type Visitor interface {
	Enter(expr Expr) (Visitor, error)
	Exit(expr Expr) (Expr, error)
}

// Template is a text with embedded expressions.
type Template struct{}

// Walk visits the template node.
func (t *Template) Walk(v Visitor) (Expr, error) {
	if _, err := v.Enter(t); err != nil {
		return t, err
	}
	return v.Exit(t)
}
