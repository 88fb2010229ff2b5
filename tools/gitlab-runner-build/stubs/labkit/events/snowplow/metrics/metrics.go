// Package metrics stands in for labkit's Snowplow collector options.
package metrics

// CollectorOption configures the emitter's metrics.
type CollectorOption func()

// WithCollectorNamespace would set the metrics namespace.
func WithCollectorNamespace(string) CollectorOption { return func() {} }

// WithCollectorBatchDeliveryDurationBuckets would set histogram buckets.
func WithCollectorBatchDeliveryDurationBuckets([]float64) CollectorOption { return func() {} }
