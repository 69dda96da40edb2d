// Package localevents runs Pulse's event publishing on the local stack, as template.yaml wires
// it on AWS: the table's stream (DynamoDB Local's own) read by the event source mapping
// stand-in (internal/streams) with PublishEventsStream's settings and filters, the publisher's
// handler (publish.NewHandler, the code PublishEventsFunction runs) with its EventBridge client pointed
// at the PutEvents stand-in (internal/eventbus), and the dead-letter queue kept in memory.
// `make run` and the tests use it.
package localevents

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/pulse-sessions/pulse/internal/app"
	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
	"github.com/pulse-sessions/pulse/internal/streams"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/publish"
)

// The template's logical IDs this package reads.
const (
	mappingID  = "PublishEventsStream"
	functionID = "PublishEventsFunction"
	busID      = "PulseEventBus"
	// BusName is what the stand-in bus is called (PulseEventBus's name here).
	BusName     = "pulse-local-events"
	localRegion = "us-east-1"
)

// Options say where the table is.
type Options struct {
	Endpoint  string // DynamoDB Local
	AccessKey string // names the database in DynamoDB Local
	Table     string
	Log       *slog.Logger
	// Latest publishes only what happens from now on (make run); tests read the whole stream.
	Latest bool
	// OnEvent sees every event the stand-in bus accepts (make run prints them).
	OnEvent func(eventbus.Event)
	// IAM, when set, holds the publisher's calls to its template policy: the stream reads and
	// the dead-letter sends the event source mapping makes with the function's role, and the
	// function's own calls (tests).
	IAM *iamcheck.Recorder
}

// Stack is the running publishing: Bus holds what was published, Mapping reads the stream.
type Stack struct {
	Bus     *eventbus.Server
	Mapping *streams.Mapping

	mu   sync.Mutex
	dead [][]byte
}

// Start wires the publishing of deps's table. Close stops the stand-in bus.
func Start(ctx context.Context, deps *app.Deps, tpl *template.Template, o Options) (_ *Stack, err error) {
	creds := credentials.NewStaticCredentialsProvider(o.AccessKey, "local", "")
	db := dynamodb.New(dynamodb.Options{Region: localRegion, BaseEndpoint: aws.String(o.Endpoint), Credentials: creds})
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Table)})
	if err != nil {
		return nil, err
	}
	arn := aws.ToString(desc.Table.LatestStreamArn)
	if arn == "" {
		return nil, fmt.Errorf("localevents: table %s has no stream", o.Table)
	}
	streamOpts := []func(*dynamodbstreams.Options){streams.DynamoDBLocal}
	var busOpts []func(*eventbridge.Options)
	if o.IAM != nil {
		streamOpts, busOpts = append(streamOpts, o.IAM.Streams), append(busOpts, o.IAM.EventBridge)
	}
	m, ok := tpl.Resources[mappingID]
	if !ok {
		return nil, fmt.Errorf("localevents: template.yaml has no %s", mappingID)
	}
	mapping := &streams.Mapping{
		Streams:   dynamodbstreams.New(dynamodbstreams.Options{Region: localRegion, BaseEndpoint: aws.String(o.Endpoint), Credentials: creds}, streamOpts...),
		StreamARN: arn, Log: o.Log, Latest: o.Latest,
	}
	if err := mapping.FromTemplate(m.Properties); err != nil {
		return nil, err
	}
	env, err := tpl.Environment(functionID, map[string]string{"PulseTable": o.Table, busID: BusName})
	if err != nil {
		return nil, err
	}

	bus := eventbus.New(env["EVENT_BUS_NAME"])
	bus.OnEvent = o.OnEvent
	defer func() {
		if err != nil {
			bus.Close()
		}
	}()
	base := *deps.Base // the publisher's own configuration: it alone names the bus
	base.Config.EventBus = env["EVENT_BUS_NAME"]
	client, err := publish.EventBridgeFromEnv(bus.ClientEnv, busOpts...)
	if err != nil {
		return nil, err
	}
	handler, err := publish.NewHandler(&base, client)
	if err != nil {
		return nil, err
	}
	s := &Stack{Bus: bus, Mapping: mapping}
	mapping.Handler = streams.Handler(handler)
	dlq := deadLetterQueue(m.Properties)
	mapping.OnFailure = func(ctx context.Context, rec []byte) {
		if o.IAM != nil {
			// Lambda sends the on-failure record with the function's role.
			if err := o.IAM.Record(ctx, "sqs:SendMessage", iamcheck.QueueARN(dlq)); err != nil {
				o.Log.ErrorContext(ctx, "on-failure record refused", "error", err.Error())
				return
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.dead = append(s.dead, rec)
	}
	return s, nil
}

// Poll publishes what the stream holds so far.
func (s *Stack) Poll(ctx context.Context) error {
	_, err := s.Mapping.Poll(iamcheck.WithFunction(ctx, functionID))
	return err
}

// DeadLetters returns the on-failure records sent so far.
func (s *Stack) DeadLetters() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.dead...)
}

// Close stops the stand-in bus.
func (s *Stack) Close() { s.Bus.Close() }

// deadLetterQueue is the logical ID of the queue the mapping's on-failure destination names.
func deadLetterQueue(props map[string]any) string {
	dc, _ := props["DestinationConfig"].(map[string]any)
	of, _ := dc["OnFailure"].(map[string]any)
	dest, _ := of["Destination"].(map[string]any)
	if att, _ := dest["Fn::GetAtt"].([]any); len(att) > 0 {
		return fmt.Sprint(att[0])
	}
	return ""
}
