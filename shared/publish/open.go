package publish

import (
	"cmp"
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/lambdahttp"
)

// Handler is what the publisher passes to lambda.Start: a batch of the table's stream records
// in, the records to retry from out.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Open returns the handler of the function the table's stream invokes, with its own EventBridge
// client built from the environment boot.Load read: the only function that builds one (no other
// links the EventBridge SDK).
func Open(b *boot.Base) (Handler, error) {
	if b.Getenv == nil {
		return nil, fmt.Errorf("publish: Open needs the environment boot.Load read (NewHandler takes a client)")
	}
	client, err := EventBridgeFromEnv(b.Getenv)
	if err != nil {
		return nil, err
	}
	return NewHandler(b, client)
}

// NewHandler returns the publisher's handler around an EventBridge client: it publishes Pulse's
// events to the bus named by EVENT_BUS_NAME.
func NewHandler(b *boot.Base, client API) (Handler, error) {
	if b.Config.EventBus == "" || client == nil {
		return nil, fmt.Errorf("publish: the publisher needs EVENT_BUS_NAME and an EventBridge client")
	}
	p := &Publisher{Bus: b.Config.EventBus, Client: client, Log: b.Log, Attempts: 4, Metrics: os.Stdout}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		// Stop putting a little before the deadline, so that the records not published are
		// reported (and retried from) rather than the whole batch failing with a timeout.
		ctx, cancel := lambdahttp.BeforeDeadline(ctx)
		defer cancel()
		inv := *p // the invocation's own logger, which names its request ID on every line
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			inv.Log = b.Log.With("request_id", lc.AwsRequestID)
		}
		return inv.Handle(ctx, ev)
	}, nil
}

// EventBridgeFromEnv builds the EventBridge client as boot.ClientFromEnv builds DynamoDB's:
// AWS_ENDPOINT_URL_EVENTBRIDGE (or AWS_ENDPOINT_URL) points it elsewhere, which is how local
// runs and tests reach the PutEvents stand-in (internal/eventbus).
func EventBridgeFromEnv(getenv func(string) string, optFns ...func(*eventbridge.Options)) (*eventbridge.Client, error) {
	region, creds, err := boot.AWSFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	o := eventbridge.Options{Region: region, Credentials: creds}
	if u := cmp.Or(getenv("AWS_ENDPOINT_URL_EVENTBRIDGE"), getenv("AWS_ENDPOINT_URL")); u != "" {
		o.BaseEndpoint = aws.String(u)
	}
	return eventbridge.New(o, append([]func(*eventbridge.Options){func(o *eventbridge.Options) { o.Retryer = boot.Retryer() }}, optFns...)...), nil
}
