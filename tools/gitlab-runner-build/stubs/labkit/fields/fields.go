// Package fields stands in for labkit's standard log field names.
package fields

// Standard field names the runner logs with.
const (
	HTTPStatusCode = "http_status_code"
	DurationS      = "duration_s"
)

// DeprecatedField names the standard field that replaces a legacy one.
type DeprecatedField struct {
	Standard string
}

// Deprecated maps legacy field names to their replacement. Empty here: the
// runner then logs every field under the name it uses.
var Deprecated = map[string]DeprecatedField{}

// VariantVersion is the schema version that introduced a standard field.
var VariantVersion = map[string]int{}
