// Package value stands in for moa's values. Decoding a value from JSON fails:
// job inputs are not supported in this build.
package value

import (
	"errors"
	"iter"
)

var (
	ErrAttributeNotFound = errors.New("attribute not found")
	ErrInvalidKey        = errors.New("invalid key")
	errNotSupported      = errors.New("job input values are not supported in this gitlab-runner build")
)

// Kind is the kind of a value.
type Kind int

const (
	NullKind Kind = iota
	StringKind
	NumberKind
	BoolKind
	ArrayKind
	ObjectKind
)

func (k Kind) String() string {
	return [...]string{"null", "string", "number", "boolean", "array", "object"}[k]
}

// Mapper is an object whose attributes can be read.
type Mapper interface {
	Attr(name string) (Value, error)
	Get(key Value) (Value, error)
	Keys() iter.Seq[Value]
	Len() int
}

// Value is a null, a string or an object.
type Value struct {
	kind   Kind
	text   string
	marks  uint16
	object Mapper
}

// Null is the null value.
func Null() Value { return Value{} }

// String is a string value.
func String(s string) Value { return Value{kind: StringKind, text: s} }

// Object wraps a Mapper.
func Object(m Mapper) Value { return Value{kind: ObjectKind, object: m} }

func (v Value) Kind() Kind { return v.kind }

func (v Value) String() string { return v.text }

// WithMarks returns v with marks added.
func (v Value) WithMarks(marks uint16) Value {
	v.marks |= marks
	return v
}

// HasMarks reports whether all marks are set.
func (v Value) HasMarks(marks uint16) bool { return v.marks&marks == marks }

// UnmarshalJSON always fails.
func (v *Value) UnmarshalJSON([]byte) error { return errNotSupported }
