// Package snowplow stands in for labkit's Snowplow billing events. NewEmitter
// always fails: usage billing is not supported in this build, so the runner
// reports the usage log writer as unavailable.
package snowplow

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"gitlab.com/gitlab-org/labkit/v2/events/snowplow/metrics"
	"gitlab.com/gitlab-org/labkit/v2/events/snowplow/oidc"
)

var errNotSupported = errors.New("snowplow usage billing is not supported in this gitlab-runner build")

// SendResult is the outcome of one batch.
type SendResult struct {
	EventCount int
	StatusCode int
	Err        error
}

// SendCallback receives the results of a send loop.
type SendCallback func(successes []SendResult, failures []SendResult)

// EmitterOption configures an emitter.
type EmitterOption func()

// WithCallback would set the send callback.
func WithCallback(SendCallback) EmitterOption { return func() {} }

// WithTokenSource would authenticate to the collector.
func WithTokenSource(*oidc.Source) EmitterOption { return func() {} }

// WithMetricsCollectorOptions would configure the emitter's metrics.
func WithMetricsCollectorOptions(...metrics.CollectorOption) EmitterOption { return func() {} }

// Emitter would send events.
type Emitter struct{}

// NewEmitter always fails.
func NewEmitter(string, ...EmitterOption) (*Emitter, error) { return nil, errNotSupported }

// Collector returns an empty collector.
func (*Emitter) Collector() prometheus.Collector { return emptyCollector{} }

type emptyCollector struct{}

func (emptyCollector) Describe(chan<- *prometheus.Desc) {}
func (emptyCollector) Collect(chan<- prometheus.Metric)  {}

// Tracker would track events.
type Tracker struct{}

// NewTracker always fails.
func NewTracker(string, *Emitter) (*Tracker, error) { return nil, errNotSupported }

// BillingEventRequiredInput are a billing event's required fields.
type BillingEventRequiredInput struct {
	Category      string
	EventType     string
	Realm         string
	UnitOfMeasure string
	Quantity      float64
}

// BillingEventOptionalInput are a billing event's optional fields.
type BillingEventOptionalInput struct {
	Subject          string
	DeploymentType   string
	Metadata         map[string]any
	InstanceID       string
	UniqueInstanceID string
	ProjectID        int64
	NamespaceID      int64
	RootNamespaceID  int64
	OrganizationID   int64
}

// TrackBillingEventWithOptionalInput always fails.
func (*Tracker) TrackBillingEventWithOptionalInput(BillingEventRequiredInput, BillingEventOptionalInput) error {
	return errNotSupported
}

// Stop does nothing.
func (*Tracker) Stop() {}
