package bench

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/shared/store"
)

// timedDB measures the time each request spends in DynamoDB: the same calls, made directly by
// the SDK client, timed around the call. A request's time minus its DynamoDB time is Pulse's
// own overhead (decoding, validation, auth logic, JSON, the Lambda adapter).
type timedDB struct{ db *dynamodb.Client }

type ddbTimeKey struct{}

func withDDBTime(ctx context.Context, acc *atomic.Int64) context.Context {
	return context.WithValue(ctx, ddbTimeKey{}, acc)
}

func (t timedDB) add(ctx context.Context, start time.Time) {
	if acc, ok := ctx.Value(ddbTimeKey{}).(*atomic.Int64); ok {
		acc.Add(int64(time.Since(start)))
	}
}

var _ store.API = timedDB{}

func (t timedDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	defer t.add(ctx, time.Now())
	return t.db.GetItem(ctx, in, o...)
}

func (t timedDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	defer t.add(ctx, time.Now())
	return t.db.PutItem(ctx, in, o...)
}

func (t timedDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	defer t.add(ctx, time.Now())
	return t.db.UpdateItem(ctx, in, o...)
}

func (t timedDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	defer t.add(ctx, time.Now())
	return t.db.Query(ctx, in, o...)
}

func (t timedDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	defer t.add(ctx, time.Now())
	return t.db.BatchGetItem(ctx, in, o...)
}

func (t timedDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	defer t.add(ctx, time.Now())
	return t.db.BatchWriteItem(ctx, in, o...)
}

func (t timedDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	defer t.add(ctx, time.Now())
	return t.db.TransactWriteItems(ctx, in, o...)
}
