// Package gracefulexitcmd stands in for step-runner's command helper. Only
// the step-based script paths use it, which this build does not support; it
// still returns a plain command so a caller gets a working process.
package gracefulexitcmd

import (
	"context"
	"os/exec"
	"time"
)

// New is exec.CommandContext with delay as the wait after cancellation.
func New(ctx context.Context, delay time.Duration, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = delay
	return cmd
}
