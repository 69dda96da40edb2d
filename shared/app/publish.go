package app

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/pulse-sessions/pulse/shared/publish"
)

// PublishHandler is what the publisher passes to lambda.Start: a batch of the table's stream
// records in, the records to retry from out.
type PublishHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Publish returns the handler of the function the table's stream invokes: it publishes Pulse's
// events to the bus named by EVENT_BUS_NAME through d.Events.
func Publish(d *Deps) (PublishHandler, error) {
	if d.Config.EventBus == "" || d.Events == nil {
		return nil, fmt.Errorf("app: the publisher needs EVENT_BUS_NAME and an EventBridge client")
	}
	p := &publish.Publisher{Bus: d.Config.EventBus, Client: d.Events, Log: d.Log, Attempts: 4, Metrics: os.Stdout}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		// Stop putting a little before the deadline, so that the records not published are
		// reported (and retried from) rather than the whole batch failing with a timeout.
		ctx, cancel := beforeDeadline(ctx)
		defer cancel()
		inv := *p // the invocation's own logger, which names its request ID on every line
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			inv.Log = d.Log.With("request_id", lc.AwsRequestID)
		}
		return inv.Handle(ctx, ev)
	}, nil
}
