package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/pulse-sessions/pulse/internal/redrive"
	"github.com/pulse-sessions/pulse/shared/publish"
)

// runRedrive is `pulse redrive`: the operator's answer to PublishEventsDeadLettersAlarm. With
// the stack's outputs (EventsDeadLetterQueueUrl, EventBusName) and AWS credentials that may
// receive and delete from the queue, read the table's stream and put events on the bus, it
// publishes again every batch the queue names, within the stream's 24 hours.
func runRedrive(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	url := fs.String("queue-url", "", "the stack's EventsDeadLetterQueueUrl output")
	bus := fs.String("bus", "", "the stack's EventBusName output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *bus == "" {
		return errors.New("redrive: -queue-url and -bus are required (the stack's outputs)")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	p := &publish.Publisher{Bus: *bus, Client: eventbridge.NewFromConfig(cfg), Log: slog.New(slog.NewJSONHandler(os.Stderr, nil)), Attempts: 4}
	sum, err := redrive.Run(ctx, sqs.NewFromConfig(cfg), *url, dynamodbstreams.NewFromConfig(cfg), p.Handle)
	fmt.Fprintf(out, "%d on-failure records: %d published again (%d stream records) and deleted; %d past the stream's 24 hours; %d still failing\n",
		sum.Messages, sum.Published, sum.Records, sum.Expired, sum.Failed)
	for _, p := range sum.Problems {
		fmt.Fprintln(out, " ", p)
	}
	if err == nil && sum.Failed > 0 {
		err = fmt.Errorf("redrive: %d batches still failing; they stay in the queue", sum.Failed)
	}
	return err
}
