package bench

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/shared/store"
)

// timedDB measures the time each request spends in DynamoDB: the same calls, made directly by
// the SDK client, timed around the call. A request's time minus its DynamoDB time is Pulse's
// own overhead (decoding, validation, auth logic, JSON, the Lambda adapter).
type timedDB struct{ db *dynamodb.Client }

// ddbClock is one request's wall-clock time with at least one DynamoDB call in flight. Calls a
// request makes at once (the admin list reads its index partitions in parallel) overlap: their
// sum would exceed the request's own time and make Pulse's share negative, so overlapping
// calls count once, as the time the request waited on DynamoDB.
type ddbClock struct {
	mu       sync.Mutex
	inFlight int
	since    time.Time
	total    time.Duration
}

func (c *ddbClock) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight == 0 {
		c.since = time.Now()
	}
	c.inFlight++
}

func (c *ddbClock) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight--; c.inFlight == 0 {
		c.total += time.Since(c.since)
	}
}

// Total is the time measured so far; read it once the request's calls have returned.
func (c *ddbClock) Total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

type ddbTimeKey struct{}

func withDDBTime(ctx context.Context, c *ddbClock) context.Context {
	return context.WithValue(ctx, ddbTimeKey{}, c)
}

// timer starts timing one call in ctx's request and returns what ends it (a no-op outside one).
func (t timedDB) timer(ctx context.Context) func() {
	c, ok := ctx.Value(ddbTimeKey{}).(*ddbClock)
	if !ok {
		return func() {}
	}
	c.begin()
	return c.end
}

var _ store.API = timedDB{}

func (t timedDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	defer t.timer(ctx)()
	return t.db.GetItem(ctx, in, o...)
}

func (t timedDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	defer t.timer(ctx)()
	return t.db.PutItem(ctx, in, o...)
}

func (t timedDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	defer t.timer(ctx)()
	return t.db.UpdateItem(ctx, in, o...)
}

func (t timedDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	defer t.timer(ctx)()
	return t.db.Query(ctx, in, o...)
}

func (t timedDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	defer t.timer(ctx)()
	return t.db.BatchGetItem(ctx, in, o...)
}

func (t timedDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	defer t.timer(ctx)()
	return t.db.BatchWriteItem(ctx, in, o...)
}

func (t timedDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	defer t.timer(ctx)()
	return t.db.TransactWriteItems(ctx, in, o...)
}
