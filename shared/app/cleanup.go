package app

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/pulse-sessions/pulse/shared/cleanup"
)

// CleanupHandler is what the scheduled function passes to lambda.Start.
type CleanupHandler func(context.Context, events.EventBridgeEvent) (cleanup.Summary, error)

// Cleanup returns the scheduled cleanup's handler. The run stops a few seconds before the
// function's deadline; its summary goes to stdout as one JSON line that is also an embedded
// metric format record.
func Cleanup(d *Deps) CleanupHandler {
	c := &cleanup.Cleaner{Store: d.Store, Now: d.Now, Metrics: os.Stdout, Function: "cleanup-expired-sessions"}
	return func(ctx context.Context, ev events.EventBridgeEvent) (cleanup.Summary, error) {
		sum, err := c.Run(ctx)
		if err != nil {
			id := ""
			if lc, ok := lambdacontext.FromContext(ctx); ok {
				id = lc.AwsRequestID
			}
			d.Log.ErrorContext(ctx, "cleanup failed", "request_id", id, "event_id", ev.ID, "error", err.Error())
		}
		return sum, err
	}
}
