package cleanup

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/pulse-sessions/pulse/shared/boot"
)

// Handler is what the scheduled function passes to lambda.Start.
type Handler func(context.Context, events.EventBridgeEvent) (Summary, error)

// Open returns the scheduled cleanup's handler. The run stops a few seconds before the
// function's deadline; its summary goes to stdout as one JSON line that is also an embedded
// metric format record.
func Open(b *boot.Base) (Handler, error) {
	c := &Cleaner{Store: b.Store, Now: b.Now, Metrics: os.Stdout, Function: "cleanup-expired-sessions"}
	return func(ctx context.Context, ev events.EventBridgeEvent) (Summary, error) {
		sum, err := c.Run(ctx)
		if err != nil {
			id := ""
			if lc, ok := lambdacontext.FromContext(ctx); ok {
				id = lc.AwsRequestID
			}
			b.Log.ErrorContext(ctx, "cleanup failed", "request_id", id, "event_id", ev.ID, "error", err.Error())
		}
		return sum, err
	}, nil
}
