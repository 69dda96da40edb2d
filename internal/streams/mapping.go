// Package streams is a local stand-in for Lambda's event source mapping on a DynamoDB stream,
// which has no local emulator: it reads DynamoDB Local's stream (the real Streams API), filters
// the records with the mapping's own FilterCriteria from template.yaml, invokes the handler with
// batches in Lambda's event shape, and does what the mapping's settings say with failures —
// partial batch failures (ReportBatchItemFailures), bisection on a function error, a bounded
// number of retries, then an on-failure record for the dead-letter queue. `make run` and the
// tests run the publisher under it. What Lambda does differently is in docs/events.md.
package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler is a stream function's handler, as lambda.Start takes it.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Mapping reads one stream into one handler.
type Mapping struct {
	Streams   *dynamodbstreams.Client
	StreamARN string
	Filters   []Pattern // none: every record
	BatchSize int       // default 100
	// MaxRetries is how many times a failing batch is retried before its on-failure record is
	// sent (MaximumRetryAttempts); Bisect splits a batch in two on a function error
	// (BisectBatchOnFunctionError).
	MaxRetries int
	Bisect     bool
	// Latest starts at the end of the stream's shards found first (StartingPosition LATEST):
	// make run publishes what happens from its start, not the day of history a persistent
	// local table's stream holds. Shards opened later are read from their beginning.
	Latest  bool
	Handler Handler
	// OnFailure receives the on-failure record of a batch given up on, as Lambda sends it to
	// the mapping's SQS destination.
	OnFailure func(ctx context.Context, record []byte)
	Log       *slog.Logger

	mu      sync.Mutex
	shards  map[string]*shard // by shard ID
	order   []string          // shard IDs in the order first seen (parents first)
	invokes int
}

// Invocations returns how many times the handler was invoked.
func (m *Mapping) Invocations() int { m.mu.Lock(); defer m.mu.Unlock(); return m.invokes }

type shard struct {
	iterator *string
	closed   bool
}

// FromTemplate fills the mapping's settings from an AWS::Lambda::EventSourceMapping's
// properties (template.yaml's PublishEventsStream).
func (m *Mapping) FromTemplate(props map[string]any) error {
	if n, ok := props["BatchSize"].(int64); ok {
		m.BatchSize = int(n)
	}
	if n, ok := props["MaximumRetryAttempts"].(int64); ok {
		m.MaxRetries = int(n)
	}
	m.Bisect = props["BisectBatchOnFunctionError"] == true
	fc, _ := props["FilterCriteria"].(map[string]any)
	filters, _ := fc["Filters"].([]any)
	for _, f := range filters {
		fm, _ := f.(map[string]any)
		s, _ := fm["Pattern"].(string)
		p, err := ParsePattern(s)
		if err != nil {
			return err
		}
		m.Filters = append(m.Filters, p)
	}
	return nil
}

// Poll reads every shard until it has no more records for now, handling each batch, and
// returns how many records it read (filtered out or not). Tests call it after the writes they
// want to see published; Run calls it in a loop.
func (m *Mapping) Poll(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.discover(ctx); err != nil {
		return 0, err
	}
	total := 0
	for _, id := range m.order {
		sh := m.shards[id]
		for !sh.closed && sh.iterator != nil {
			out, err := m.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: sh.iterator, Limit: aws.Int32(int32(m.batchSize()))})
			if err != nil {
				return total, fmt.Errorf("streams: GetRecords on %s: %w", id, err)
			}
			sh.iterator = out.NextShardIterator
			sh.closed = out.NextShardIterator == nil
			if len(out.Records) == 0 {
				break
			}
			total += len(out.Records)
			var batch []events.DynamoDBEventRecord
			for _, r := range out.Records {
				rec := m.record(r)
				if m.matches(rec) {
					batch = append(batch, rec)
				}
			}
			if len(batch) > 0 {
				m.process(ctx, id, batch, 0)
			}
		}
	}
	return total, nil
}

// Run polls every interval until ctx ends.
func (m *Mapping) Run(ctx context.Context, interval time.Duration) {
	for {
		if _, err := m.Poll(ctx); err != nil && ctx.Err() == nil {
			m.Log.Error("stream poll failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (m *Mapping) batchSize() int {
	if m.BatchSize <= 0 {
		return 100
	}
	return m.BatchSize
}

// discover learns of shards it does not know yet, each read from its beginning (the mapping's
// StartingPosition: TRIM_HORIZON) unless Latest says otherwise.
func (m *Mapping) discover(ctx context.Context) error {
	first := m.shards == nil
	if first {
		m.shards = map[string]*shard{}
	}
	var start *string
	for {
		out, err := m.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(m.StreamARN), ExclusiveStartShardId: start})
		if err != nil {
			return fmt.Errorf("streams: DescribeStream: %w", err)
		}
		for _, s := range out.StreamDescription.Shards {
			id := aws.ToString(s.ShardId)
			if _, known := m.shards[id]; known {
				continue
			}
			from := types.ShardIteratorTypeTrimHorizon
			if first && m.Latest {
				from = types.ShardIteratorTypeLatest
			}
			it, err := m.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(m.StreamARN), ShardId: s.ShardId, ShardIteratorType: from})
			if err != nil {
				return fmt.Errorf("streams: GetShardIterator on %s: %w", id, err)
			}
			m.shards[id] = &shard{iterator: it.ShardIterator}
			m.order = append(m.order, id)
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return nil
		}
	}
}

// process invokes the handler with batch and deals with what fails, as the mapping would: a
// function error bisects the batch (when Bisect) or retries it whole; reported item failures
// retry from the earliest one reported; past MaxRetries the rest goes to OnFailure.
func (m *Mapping) process(ctx context.Context, shardID string, batch []events.DynamoDBEventRecord, retries int) {
	for len(batch) > 0 {
		m.invokes++
		resp, err := m.Handler(ctx, events.DynamoDBEvent{Records: batch})
		if err == nil {
			from := -1
			for _, f := range resp.BatchItemFailures {
				i := indexOf(batch, f.ItemIdentifier)
				if i < 0 { // Lambda retries the whole batch on an identifier it does not know
					i = 0
				}
				if from < 0 || i < from {
					from = i
				}
			}
			if from < 0 {
				return
			}
			batch = batch[from:]
		} else {
			m.Log.Warn("stream function failed", "shard", shardID, "records", len(batch), "error", err.Error())
			if m.Bisect && len(batch) > 1 {
				half := len(batch) / 2
				m.process(ctx, shardID, batch[:half], retries+1)
				m.process(ctx, shardID, batch[half:], retries+1)
				return
			}
		}
		retries++
		if retries > m.MaxRetries {
			m.failed(ctx, shardID, batch, retries)
			return
		}
	}
}

// failed sends the on-failure record of batch, in the shape Lambda gives it for a DynamoDB
// stream: the batch's shard and first and last sequence numbers, never the records.
func (m *Mapping) failed(ctx context.Context, shardID string, batch []events.DynamoDBEventRecord, invokes int) {
	first, last := batch[0], batch[len(batch)-1]
	rec := map[string]any{
		"requestContext":  map[string]any{"condition": "RetryAttemptsExhausted", "approximateInvokeCount": invokes},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST"},
		"version":         "1.0",
		"timestamp":       time.Now().UTC().Format(time.RFC3339Nano),
		"DDBStreamBatchInfo": map[string]any{
			"shardId": shardID, "startSequenceNumber": first.Change.SequenceNumber, "endSequenceNumber": last.Change.SequenceNumber,
			"approximateArrivalOfFirstRecord": first.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
			"approximateArrivalOfLastRecord":  last.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
			"batchSize":                       len(batch), "streamArn": m.StreamARN,
		},
	}
	b, _ := json.Marshal(rec)
	m.Log.Error("stream batch given up on: on-failure record sent", "shard", shardID, "from_sequence", first.Change.SequenceNumber, "records", len(batch))
	if m.OnFailure != nil {
		m.OnFailure(ctx, b)
	}
}

func indexOf(batch []events.DynamoDBEventRecord, seq string) int {
	for i, r := range batch {
		if r.Change.SequenceNumber == seq {
			return i
		}
	}
	return -1
}

// matches reports whether a record passes the mapping's filters (any of them), read against
// the record as the function would receive it, as Lambda does.
func (m *Mapping) matches(rec events.DynamoDBEventRecord) bool {
	if len(m.Filters) == 0 {
		return true
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return false
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return false
	}
	for _, p := range m.Filters {
		if p.Match(doc) {
			return true
		}
	}
	return false
}

// record converts a stream record into Lambda's event shape.
func (m *Mapping) record(r types.Record) events.DynamoDBEventRecord { return Record(r, m.StreamARN) }

// Record converts a record of the stream streamARN into Lambda's event shape, as the event
// source mapping hands it to the function.
func Record(r types.Record, streamARN string) events.DynamoDBEventRecord {
	d := r.Dynamodb
	out := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceArn: streamARN,
		Change: events.DynamoDBStreamRecord{
			Keys: image(d.Keys), NewImage: image(d.NewImage), OldImage: image(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes), StreamViewType: string(d.StreamViewType),
		},
	}
	if d.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	return out
}

func image(img map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if img == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(img))
	for k, v := range img {
		out[k] = attribute(v)
	}
	return out
}

func attribute(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(image(x.Value))
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, 0, len(x.Value))
		for _, e := range x.Value {
			l = append(l, attribute(e))
		}
		return events.NewListAttribute(l)
	}
	return events.NewNullAttribute()
}
