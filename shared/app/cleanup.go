package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/publish"
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

// PublishHandler is what the publisher passes to lambda.Start: a batch of the table's stream
// records in, the records to retry from out.
type PublishHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Publish returns the handler of the function the table's stream invokes: it publishes Pulse's
// events to the bus named by EVENT_BUS_NAME through d.Events.
func Publish(d *Deps) (PublishHandler, error) {
	if d.Config.EventBus == "" || d.Events == nil {
		return nil, fmt.Errorf("app: the publisher needs EVENT_BUS_NAME and an EventBridge client")
	}
	p := &publish.Publisher{Bus: d.Config.EventBus, Client: d.Events, Log: d.Log, Attempts: 4}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		// Stop putting a little before the deadline, so that the records not published are
		// reported (and retried from) rather than the whole batch failing with a timeout.
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-answerReserve(time.Until(deadline))))
			defer cancel()
		}
		inv := *p // the invocation's own logger, which names its request ID on every line
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			inv.Log = d.Log.With("request_id", lc.AwsRequestID)
		}
		return inv.Handle(ctx, ev)
	}, nil
}
