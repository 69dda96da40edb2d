// Package redrive publishes again the stream records that PublishEventsFunction gave up on.
// Lambda's event source mapping keeps no records in the dead-letter queue, only where they were:
// an on-failure record naming the shard and the first and last sequence numbers of the batch.
// The table's stream holds records for 24 hours; within them, Run reads each batch named in
// the queue back from the stream, hands it to the publisher as the mapping would, and deletes
// the message once every record is published. It is `pulse redrive` (docs/operating.md, "Operating
// Pulse" says when).
package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/pulse-sessions/pulse/internal/streams"
)

// Batch is what an on-failure record says of the batch given up on.
type Batch struct {
	StreamARN string `json:"streamArn"`
	ShardID   string `json:"shardId"`
	Start     string `json:"startSequenceNumber"`
	End       string `json:"endSequenceNumber"`
	Size      int    `json:"batchSize"`
}

// Parse reads the batch an on-failure record names (Lambda's shape for a DynamoDB stream).
func Parse(record []byte) (Batch, error) {
	var r struct {
		Info *Batch `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal(record, &r); err != nil {
		return Batch{}, fmt.Errorf("redrive: not an on-failure record: %w", err)
	}
	if r.Info == nil || r.Info.StreamARN == "" || r.Info.ShardID == "" || r.Info.Start == "" || r.Info.End == "" {
		return Batch{}, errors.New("redrive: the on-failure record names no stream batch (DDBStreamBatchInfo)")
	}
	return *r.Info, nil
}

// StreamsAPI is the part of the DynamoDB Streams client Read uses.
type StreamsAPI interface {
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// ErrExpired is a batch the stream no longer holds (it keeps records 24 hours).
var ErrExpired = errors.New("redrive: the stream no longer holds these records (it keeps them 24 hours)")

// Read returns the records of b, from its first sequence number to its last, in Lambda's event
// shape. Every record between the two is returned, also those the mapping's filters would have
// left out: the publisher publishes nothing for them, as it decides by both images itself.
func Read(ctx context.Context, s StreamsAPI, b Batch) ([]events.DynamoDBEventRecord, error) {
	end, ok := new(big.Int).SetString(b.End, 10)
	if !ok {
		return nil, fmt.Errorf("redrive: sequence number %q is not a number", b.End)
	}
	it, err := s.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(b.StreamARN),
		ShardId: aws.String(b.ShardID), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(b.Start)})
	var trimmed *types.TrimmedDataAccessException
	if errors.As(err, &trimmed) {
		return nil, ErrExpired
	}
	if err != nil {
		return nil, fmt.Errorf("redrive: GetShardIterator: %w", err)
	}
	var out []events.DynamoDBEventRecord
	iter := it.ShardIterator
	// A shard's records come in order; an empty page means the reader has caught up with the
	// shard's writer (DynamoDB Streams can answer empty pages before the end, so a few are read).
	for empty := 0; iter != nil && empty < 5; {
		page, err := s.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if errors.As(err, &trimmed) {
			return nil, ErrExpired
		}
		if err != nil {
			return nil, fmt.Errorf("redrive: GetRecords: %w", err)
		}
		if len(page.Records) == 0 {
			empty++
		}
		for _, r := range page.Records {
			seq, ok := new(big.Int).SetString(aws.ToString(r.Dynamodb.SequenceNumber), 10)
			if !ok {
				return nil, fmt.Errorf("redrive: sequence number %q is not a number", aws.ToString(r.Dynamodb.SequenceNumber))
			}
			if seq.Cmp(end) > 0 {
				return out, nil
			}
			out = append(out, streams.Record(r, b.StreamARN))
		}
		iter = page.NextShardIterator
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("redrive: no records from %s to %s in shard %s", b.Start, b.End, b.ShardID)
	}
	return out, nil
}

// Publisher is the publisher's handler (publish.NewHandler, or publish.Publisher.Handle).
type Publisher func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// QueueAPI is the part of the SQS client Run uses.
type QueueAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Summary is what a run did.
type Summary struct {
	Messages  int // on-failure records read from the queue
	Published int // whose records are all published again: deleted from the queue
	Records   int // stream records handed to the publisher
	Expired   int // older than the stream's 24 hours: left in the queue, nothing to publish
	Failed    int // still failing: left in the queue, to be tried again
	// Problems says why, for the first 20 messages left in the queue.
	Problems []string
}

// Run drains the dead-letter queue at url: for each on-failure record, the batch is read back
// from the stream and published; a message is deleted only when all of its records were.
// Messages it cannot redrive stay in the queue (they become visible again after the queue's
// visibility timeout) and are counted; the error is for a queue that cannot be read at all.
func Run(ctx context.Context, q QueueAPI, url string, s StreamsAPI, publish Publisher) (Summary, error) {
	var sum Summary
	for {
		res, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return sum, fmt.Errorf("redrive: ReceiveMessage: %w", err)
		}
		if len(res.Messages) == 0 {
			return sum, nil
		}
		for _, m := range res.Messages {
			sum.Messages++
			n, err := one(ctx, s, publish, []byte(aws.ToString(m.Body)))
			if err != nil && len(sum.Problems) < 20 {
				sum.Problems = append(sum.Problems, fmt.Sprintf("message %s: %v", aws.ToString(m.MessageId), err))
			}
			switch {
			case errors.Is(err, ErrExpired):
				sum.Expired++
			case err != nil:
				sum.Failed++
			default:
				sum.Records += n
				if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
					return sum, fmt.Errorf("redrive: DeleteMessage: %w", err)
				}
				sum.Published++
			}
		}
		if sum.Messages >= 10000 { // a bound on one run; run it again for more
			return sum, nil
		}
	}
}

// one publishes the batch of one on-failure record and returns how many records it held.
func one(ctx context.Context, s StreamsAPI, publish Publisher, record []byte) (int, error) {
	b, err := Parse(record)
	if err != nil {
		return 0, err
	}
	recs, err := Read(ctx, s, b)
	if err != nil {
		return 0, err
	}
	resp, err := publish(ctx, events.DynamoDBEvent{Records: recs})
	if err != nil {
		return 0, err
	}
	if len(resp.BatchItemFailures) > 0 {
		return 0, fmt.Errorf("redrive: %d records still failing, from %s", len(recs), resp.BatchItemFailures[0].ItemIdentifier)
	}
	return len(recs), nil
}
