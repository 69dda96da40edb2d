package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// Every request the store makes goes through the helpers of this file. Each one names the
// table, asks DynamoDB for the consumed capacity (indexes included: it costs nothing), adds it
// to the meter, and hands back failures in one of two forms: a *conditionError (or
// *cancelledError for a transaction) that the caller turns into a domain error, or an error
// already wrapped by fail. No call site pairs a request with its metering by hand.

// measure asks DynamoDB for the capacity of every request, indexes included.
var measure = types.ReturnConsumedCapacityIndexes

// conditionError is a write whose condition failed. Item is the item as it was, when the
// request asked for it (ReturnValuesOnConditionCheckFailure: ALL_OLD), nil when it was missing.
type conditionError struct {
	Item map[string]types.AttributeValue
}

func (e *conditionError) Error() string { return "store: the condition of the write failed" }

// conditionFailed reports whether err is a failed condition, and returns the item as it was.
func conditionFailed(err error) (bool, map[string]types.AttributeValue) {
	var ce *conditionError
	if errors.As(err, &ce) {
		return true, ce.Item
	}
	return false, nil
}

// cancelledError is a transaction that DynamoDB cancelled because a condition failed.
type cancelledError struct{ Reasons []types.CancellationReason }

func (e *cancelledError) Error() string { return "store: a condition of the transaction failed" }

// cancelledBy returns the reason code of transaction item i when err is a cancelled
// transaction, and the item as it was, if the request asked for it.
func cancelledBy(err error, i int) (string, map[string]types.AttributeValue) {
	var ce *cancelledError
	if errors.As(err, &ce) && i < len(ce.Reasons) {
		return aws.ToString(ce.Reasons[i].Code), ce.Reasons[i].Item
	}
	return "", nil
}

// conflicted reports whether a transaction was cancelled by a condition or by another
// transaction on one of its items: worth reading again and retrying.
func conflicted(err error) bool {
	var ce *cancelledError
	if !errors.As(err, &ce) {
		return false
	}
	for _, r := range ce.Reasons {
		if c := aws.ToString(r.Code); c == "ConditionalCheckFailed" || c == "TransactionConflict" {
			return true
		}
	}
	return false
}

// writeFailed sorts a failed write: a failed condition is returned for the caller to read
// (and counted: AWS charges it, though DynamoDB Local reports no capacity for it), anything
// else is wrapped by fail.
func (s *Store) writeFailed(ctx context.Context, op string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		s.countFailedWrite(ctx, 1, false)
		return &conditionError{Item: ccf.Item}
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				s.countFailedWrite(ctx, len(tce.CancellationReasons), true)
				break
			}
		}
		// The reasons say which item failed and why (a condition, or a conflict with another
		// transaction): the caller decides.
		return &cancelledError{Reasons: tce.CancellationReasons}
	}
	return fail(op, err)
}

// getItem reads the item at k into out (a storage struct), strongly consistent when asked, and
// reports whether it exists.
func (s *Store) getItem(ctx context.Context, op string, k map[string]types.AttributeValue, consistent bool, out any) (bool, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: k,
		ConsistentRead: aws.Bool(consistent), ReturnConsumedCapacity: measure})
	if err != nil {
		return false, fail(op, err)
	}
	s.record(ctx, false, res.ConsumedCapacity)
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, fail(op, err)
	}
	return true, nil
}

// get reads the item at pk, sk: getItem by key.
func (s *Store) get(ctx context.Context, op, pk, sk string, consistent bool, out any) (bool, error) {
	return s.getItem(ctx, op, key(pk, sk), consistent, out)
}

// putItem writes in's item to the table.
func (s *Store) putItem(ctx context.Context, op string, in *dynamodb.PutItemInput) error {
	in.TableName, in.ReturnConsumedCapacity = &s.table, measure
	out, err := s.db.PutItem(ctx, in)
	if err != nil {
		return s.writeFailed(ctx, op, err)
	}
	s.record(ctx, true, out.ConsumedCapacity)
	return nil
}

// updateItem applies in's update to the table and returns what DynamoDB answered.
func (s *Store) updateItem(ctx context.Context, op string, in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
	in.TableName, in.ReturnConsumedCapacity = &s.table, measure
	out, err := s.db.UpdateItem(ctx, in)
	if err != nil {
		return nil, s.writeFailed(ctx, op, err)
	}
	s.record(ctx, true, out.ConsumedCapacity)
	return out, nil
}

// transact writes items in one transaction; each item's table is set here.
func (s *Store) transact(ctx context.Context, op string, items ...types.TransactWriteItem) error {
	for _, it := range items {
		switch {
		case it.Put != nil:
			it.Put.TableName = &s.table
		case it.Update != nil:
			it.Update.TableName = &s.table
		case it.Delete != nil:
			it.Delete.TableName = &s.table
		case it.ConditionCheck != nil:
			it.ConditionCheck.TableName = &s.table
		}
	}
	out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items, ReturnConsumedCapacity: measure})
	if err != nil {
		return s.writeFailed(ctx, op, err)
	}
	// DynamoDB Local adds the items' sizes up per table; AWS charges each item twice by its own
	// size (an update or a check of an item under 1 KB: 2 WCU).
	reported, indexes := 0.0, 0.0
	for _, c := range out.ConsumedCapacity {
		reported += aws.ToFloat64(c.CapacityUnits)
		indexes += aws.ToFloat64(c.CapacityUnits)
		if c.Table != nil {
			indexes -= aws.ToFloat64(c.Table.CapacityUnits)
		}
	}
	onAWS := indexes
	for _, it := range items {
		size := 1.0
		if it.Put != nil {
			size = math.Ceil(float64(itemSize(it.Put.Item)) / 1024)
		}
		onAWS += 2 * max(size, 1)
	}
	s.meterAdd(ctx, true, reported, onAWS)
	return nil
}

// query runs in on the table (or the index it names) page by page and hands each page's items
// to page, until the result ends or page returns false.
func (s *Store) query(ctx context.Context, op string, in *dynamodb.QueryInput, page func([]map[string]types.AttributeValue) (bool, error)) error {
	return s.queryUpTo(ctx, op, in, nil, page)
}

// queryUpTo is query whose every page asks for left() items (its Limit), when left is given: a
// read that keeps only some of the items it meets then never reads a whole page beyond what it
// still needs (a Query's Limit otherwise stays the same from page to page).
func (s *Store) queryUpTo(ctx context.Context, op string, in *dynamodb.QueryInput, left func() int, page func([]map[string]types.AttributeValue) (bool, error)) error {
	in.TableName, in.ReturnConsumedCapacity = &s.table, measure
	q := *in
	for {
		if left != nil {
			q.Limit = queryLimit(max(left(), 1))
		}
		out, err := s.db.Query(ctx, &q)
		if err != nil {
			return fail(op, err)
		}
		// AWS charges a Query at least 0.5 RCU (1 when strongly consistent), even when it finds
		// nothing.
		reported := 0.0
		if out.ConsumedCapacity != nil {
			reported = aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		}
		least := 0.5
		if aws.ToBool(in.ConsistentRead) {
			least = 1
		}
		s.meterAdd(ctx, false, reported, max(reported, least))
		more, err := page(out.Items)
		if err != nil {
			return fail(op, err)
		}
		if !more || len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		q.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// queryLimit is a Query's Limit for a read that needs n items: a page deep in a list can ask
// for more than an int32 holds, and DynamoDB pages by the megabyte anyway.
func queryLimit(n int) *int32 { return aws.Int32(int32(min(n, 1000))) }

// projection is a ProjectionExpression and the attribute names it uses. A read that always
// asks for the same attributes builds its projection once, at cold start (project).
type projection struct {
	expr  *string
	names map[string]string
}

// project builds the projection of attrs. It runs on package variables: an error here is a
// mistake in the code, found by the first test that loads the package.
func project(first string, more ...string) *projection {
	names := expression.NamesList(expression.Name(first))
	for _, a := range more {
		names = names.AddNames(expression.Name(a))
	}
	expr, err := expression.NewBuilder().WithProjection(names).Build()
	if err != nil {
		panic(fmt.Sprintf("store: projection of %v: %v", append([]string{first}, more...), err))
	}
	return &projection{expr: expr.Projection(), names: expr.Names()}
}

// batchGet reads items by key, 100 to a request, strongly consistent when asked, retrying what
// DynamoDB leaves unprocessed with backoff. Missing items are left out. With a projection, only
// its attributes come back: the same capacity (DynamoDB bills a read by the whole item), but
// fewer bytes to send and to decode. A nil projection reads whole items.
func (s *Store) batchGet(ctx context.Context, op string, keys []map[string]types.AttributeValue, consistent bool, proj *projection) ([]map[string]types.AttributeValue, error) {
	ka := types.KeysAndAttributes{ConsistentRead: aws.Bool(consistent)}
	if proj != nil {
		ka.ProjectionExpression, ka.ExpressionAttributeNames = proj.expr, proj.names
	}
	// Batches go out readFanOut at a time: a page of 1,000 sessions is 10 batches.
	var chunks [][]map[string]types.AttributeValue
	for len(keys) > 0 {
		n := min(100, len(keys))
		chunks, keys = append(chunks, keys[:n]), keys[n:]
	}
	got := make([][]map[string]types.AttributeValue, len(chunks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readFanOut)
	for i, chunk := range chunks {
		g.Go(func() error {
			batch := ka
			batch.Keys = chunk
			req := map[string]types.KeysAndAttributes{s.table: batch}
			for attempt := 0; len(req) > 0 && len(req[s.table].Keys) > 0; attempt++ {
				if err := pause(gctx, attempt); err != nil {
					return fail(op, err)
				}
				out, err := s.db.BatchGetItem(gctx, &dynamodb.BatchGetItemInput{RequestItems: req, ReturnConsumedCapacity: measure})
				if err != nil {
					return fail(op, err)
				}
				s.recordAll(gctx, false, out.ConsumedCapacity)
				got[i] = append(got[i], out.Responses[s.table]...)
				req = out.UnprocessedKeys
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var items []map[string]types.AttributeValue
	for _, part := range got {
		items = append(items, part...)
	}
	return items, nil
}

// batchWrite sends write requests 25 to a batch, and retries what DynamoDB leaves unprocessed
// (it does so under throttling) with backoff until the context ends.
func (s *Store) batchWrite(ctx context.Context, op string, all []types.WriteRequest) error {
	for len(all) > 0 {
		n := min(25, len(all))
		reqs := all[:n]
		all = all[n:]
		for attempt := 0; len(reqs) > 0; attempt++ {
			if err := pause(ctx, attempt); err != nil {
				return fail(op, err)
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: reqs}, ReturnConsumedCapacity: measure,
			})
			if err != nil {
				return fail(op, err)
			}
			s.recordAll(ctx, true, out.ConsumedCapacity)
			reqs = out.UnprocessedItems[s.table]
		}
	}
	return nil
}

// deleteAll deletes items by key.
func (s *Store) deleteAll(ctx context.Context, op string, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	return s.batchWrite(ctx, op, reqs)
}

// pause waits before retry attempt n (none before the first): exponential from 50 ms, capped at
// 2 s, or until ctx ends.
func pause(ctx context.Context, n int) error {
	if n == 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(backoff(n)):
		return nil
	}
}

// backoff is the wait before retry attempt n (n ≥ 1): exponential from 50 ms, capped at 2 s.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n-1, 6)
	return min(d, 2*time.Second)
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pk},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// itemSize is an item's size as DynamoDB counts it: attribute names and values.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		return (len(x.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range x.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + itemSize(x.Value)
	}
	return 1
}
