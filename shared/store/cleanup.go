package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// ExpiryBucket is the width of the expiry index's buckets: cleanup works bucket by bucket.
const ExpiryBucket = expiryBucket

// ExpiringSessions returns the live sessions the expiry index places in the bucket that starts
// at bucket (every shard): those whose expiry fell in it when they were last written. Ended
// sessions have left the index, so a bucket already cleaned up reads as empty.
func (s *Store) ExpiringSessions(ctx context.Context, bucket time.Time) ([]*pulse.Session, error) {
	var keys []map[string]types.AttributeValue
	for shard := range expiryShards {
		k, err := s.queryKeys(ctx, "expiring sessions", indexExpiry, attrExpPK, expiryIndexPK(bucket, shard))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return s.sessionsByKey(ctx, "expiring sessions", keys, nil)
}

// EndExpired ends a session that expired by now, as it was read: status ended, ended_at its
// expiry, end_reason idle or expired, out of the live indexes (among the tenant's ends in the Active
// index), deleted by TTL after the retention.
// The write's condition is the expiry that was read, so that activity recorded meanwhile (which
// moves the expiry, and succeeds only before it) wins; a session another run ended, or that is
// not yet expired, is left alone. It reports whether this call ended the session.
func (s *Store) EndExpired(ctx context.Context, sess *pulse.Session, now time.Time) (bool, error) {
	status, endedAt, reason := sess.State(now)
	if status != pulse.StatusEnded || sess.EndReason != "" {
		return false, nil
	}
	upd := s.endUpdate(sess.TenantID, sess.ID, endedAt, reason)
	cond := expression.Name("status").Equal(expression.Value(pulse.StatusActive)).
		And(expression.Name("exp").Equal(expression.Value(sess.ExpiresAt.UnixMilli())))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return false, fail("end expired", err)
	}
	_, err = s.updateItem(ctx, "end expired", &dynamodb.UpdateItemInput{
		Key:              key(userPK(sess.TenantID, sess.UserID), sessionSK(sess.ID)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if failed, _ := conditionFailed(err); failed {
		return false, nil
	}
	return err == nil, err
}

type cursorItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Type    string `dynamodbav:"type"`
	Next    int64  `dynamodbav:"next"` // Unix seconds of the first bucket not yet done
	Updated int64  `dynamodbav:"updated"`
}

// CleanupCursor returns the start of the first expiry bucket cleanup has not finished, and
// false before the first run has saved one.
func (s *Store) CleanupCursor(ctx context.Context) (time.Time, bool, error) {
	var it cursorItem
	if found, err := s.get(ctx, "read cleanup cursor", cleanupPK(), cleanupSK(), true, &it); err != nil || !found {
		return time.Time{}, false, err
	}
	return time.Unix(it.Next, 0), true, nil
}

// AdvanceCleanupCursor moves the cursor from from (nil: no cursor yet) to to, only if no other
// run moved it first; ECONFLICT when one did.
func (s *Store) AdvanceCleanupCursor(ctx context.Context, from *time.Time, to time.Time) error {
	item, err := attributevalue.MarshalMap(cursorItem{PK: cleanupPK(), SK: cleanupSK(), Type: "cursor", Next: to.Unix(), Updated: s.now().Unix()})
	if err != nil {
		return fail("advance cleanup cursor", err)
	}
	cond := expression.AttributeNotExists(expression.Name(attrPK))
	if from != nil {
		cond = expression.Name("next").Equal(expression.Value(from.Unix()))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fail("advance cleanup cursor", err)
	}
	err = s.putItem(ctx, "advance cleanup cursor", &dynamodb.PutItemInput{Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if failed, _ := conditionFailed(err); failed {
		return pulse.Conflict("advance cleanup cursor", pulse.EntityCursor, cleanupSK(), pulse.ReasonMoved)
	}
	return err
}
