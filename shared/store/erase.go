package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// eraseGrace is how long an erased user's tombstone stays after the erasure began, before the
// scheduled sweep looks at the partition a last time and removes it: longer than any request
// that began before the tombstone can still be writing (a function's timeout is seconds).
const eraseGrace = 2 * time.Minute

// erasePageSize is how many of a user's items one round of the erasure reads and deletes: with
// a token's credential beside each token, up to twice as many deletions, 25 a request, checked
// against the deadline between requests (a round of 1,000 took 9 s under AWS's emulator).
const erasePageSize = 100

type erasedItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Type   string `dynamodbav:"type"`
	Tenant string `dynamodbav:"tenant"`
	User   string `dynamodbav:"uid"`
	Since  int64  `dynamodbav:"since"`
}

// DeleteUser erases a user. At once: a tombstone on the user, which every write that creates a
// session or a token for them is conditioned on and every read of theirs checks, and the end
// of their live sessions (a heartbeat on one is refused from then on). Then every item of
// theirs goes — sessions, per-day activity, tokens with their credentials, and their place in
// the closed days' rollups — a page at a time until the request's time runs short; the
// scheduled function finishes what is left, then removes the tombstone (the ID can be used
// again after that, within minutes). ENOTFOUND when there is no such user, or one whose erasure
// is under way (which a second delete carries on).
func (s *Store) DeleteUser(ctx context.Context, tenant, id string) error {
	const op = "delete user"
	now := s.now()
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("erased"), expression.Value(now.UnixMilli()))).
		WithCondition(expression.AttributeExists(expression.Name(attrPK)).And(expression.AttributeNotExists(expression.Name("erased")))).Build()
	if err != nil {
		return fail(op, err)
	}
	_, err = s.updateItem(ctx, op, &dynamodb.UpdateItemInput{Key: key(userPK(tenant, id), userSK()),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	if failed, old := conditionFailed(err); failed {
		// No such user, or one already being erased: either way the user is gone (404), and
		// an erasure under way is carried on meanwhile.
		if old != nil {
			if _, err := s.eraseItems(ctx, tenant, id, func() bool { return nearDeadline(ctx) }); err != nil {
				return err
			}
		}
		return pulse.NotFound(op, pulse.EntityUser, id)
	} else if err != nil {
		return err
	}
	reg, err := attributevalue.MarshalMap(erasedItem{PK: erasedPK(), SK: erasedSK(tenant, id), Type: "erased", Tenant: tenant, User: id, Since: now.UnixMilli()})
	if err != nil {
		return fail(op, err)
	}
	if err := s.putItem(ctx, op, &dynamodb.PutItemInput{Item: reg}); err != nil {
		return err
	}
	// No snapshot of the active list taken before the registry names the user is paged again:
	// a later one leaves the user out (snapshot.go).
	if err := s.snapshotsStale(ctx, op, tenant, s.now()); err != nil {
		return err
	}
	// Live sessions end now, whatever the rest takes.
	ids, err := s.liveIDs(ctx, op, tenant, id)
	if err != nil {
		return err
	}
	if _, err := s.endAll(ctx, op, tenant, id, ids, pulse.EndErased); err != nil {
		return err
	}
	_, err = s.eraseItems(ctx, tenant, id, func() bool { return nearDeadline(ctx) })
	return err
}

// nearDeadline reports whether ctx ends within a second: time to answer, not to start a round.
func nearDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && time.Until(d) < time.Second
}

// eraseItems deletes a page at a time every item of the user's partition but the tombstone,
// with the credentials of their tokens and their place in the rollups of closed days, until
// none is left (true) or stop says so (false).
func (s *Store) eraseItems(ctx context.Context, tenant, user string, stop func() bool) (bool, error) {
	const op = "erase user"
	kc := expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user)))
	proj := expression.NamesList(expression.Name(attrPK), expression.Name(attrSK), expression.Name("token_hash"), expression.Name("day"), expression.Name("type"))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).WithProjection(proj).Build()
	if err != nil {
		return false, fail(op, err)
	}
	dropped := map[string]bool{} // the months whose dictionary no longer holds the user
	for !stop() {
		var keys []map[string]types.AttributeValue
		var days []string
		err := s.query(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true),
			Limit: aws.Int32(erasePageSize),
		}, func(page []map[string]types.AttributeValue) (bool, error) {
			for _, it := range page {
				sk, _ := it[attrSK].(*types.AttributeValueMemberS)
				if sk == nil || sk.Value == userSK() {
					continue
				}
				if h, _ := it["token_hash"].(*types.AttributeValueMemberS); h != nil {
					keys = append(keys, key(tokenPK(h.Value), tokenSK()))
				}
				if t, _ := it["type"].(*types.AttributeValueMemberS); t != nil && t.Value == "day" {
					if d, _ := it["day"].(*types.AttributeValueMemberS); d != nil {
						days = append(days, d.Value)
					}
				}
				keys = append(keys, map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]})
			}
			return false, nil // one page a round
		})
		if err != nil {
			return false, err
		}
		if len(keys) == 0 {
			return true, nil
		}
		// The rollups first: once a day's item is deleted, nothing would say to drop the user
		// from that day's rollup.
		for _, d := range days {
			if stop() {
				return false, nil
			}
			if err := s.dropFromRollup(ctx, tenant, d, user, dropped); err != nil {
				return false, err
			}
		}
		if done, err := s.deleteUntil(ctx, op, keys, stop); err != nil || !done {
			return false, err
		}
	}
	return false, nil
}

// deleteUntil deletes items by key, 25 a request, and stops between requests when stop says
// so; it reports whether it deleted them all. What it leaves, the next round reads again.
func (s *Store) deleteUntil(ctx context.Context, op string, keys []map[string]types.AttributeValue, stop func() bool) (bool, error) {
	for len(keys) > 0 {
		if stop() {
			return false, nil
		}
		n := min(25, len(keys))
		if err := s.deleteAll(ctx, op, keys[:n]); err != nil {
			return false, err
		}
		keys = keys[n:]
	}
	return true, nil
}

// dropFromRollup takes user out of a closed day's rollup: out of the chunks of its month's
// dictionary that hold them (their place stays, empty, so that every bitmap still lines up),
// once per month (dropped), and out of a rollup written before the dictionary.
func (s *Store) dropFromRollup(ctx context.Context, tenant, day, user string, dropped map[string]bool) error {
	const op = "erase user from rollup"
	if len(day) != 10 {
		return nil
	}
	var rewrite []rollupItem
	if month := day[:7]; !dropped[month] {
		err := s.rollupItems(ctx, op, expression.Key(attrPK).Equal(expression.Value(rollupPK(tenant, month))).
			And(expression.Key(attrSK).BeginsWith(rollupDictPrefix)), true, func(it rollupItem) error {
			ids, err := unpackIDs(it.Users)
			if err != nil || !slices.Contains(ids, user) {
				return err
			}
			for i := range ids {
				if ids[i] == user {
					ids[i] = ""
				}
			}
			it.Users, err = packIDs(ids)
			rewrite = append(rewrite, it)
			return err
		})
		if err != nil {
			return err
		}
	}
	err := s.rollupChunks(ctx, op, tenant, day, day, true, func(it rollupItem) error {
		if it.Format != rollupFormatList {
			return nil // a bitmap: the dictionary is what names the user
		}
		users, err := gunzipLines(it.Users)
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(users), func(u string) bool { return u == user })
		if len(kept) == len(users) {
			return nil
		}
		it.N = len(kept)
		it.Users, err = gzipLines(kept)
		rewrite = append(rewrite, it)
		return err
	})
	if err != nil {
		return err
	}
	var reqs []types.WriteRequest
	for _, it := range rewrite {
		item, err := attributevalue.MarshalMap(it)
		if err != nil {
			return fail(op, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	if err := s.batchWrite(ctx, op, reqs); err != nil {
		return err
	}
	dropped[day[:7]] = true
	return nil
}

// SweepErased finishes the erasures that began more than eraseGrace ago: a last look at each
// user's partition, then the tombstone goes and the ID is free. It reports how many it
// finished and whether it got through all of them before stop said so.
func (s *Store) SweepErased(ctx context.Context, stop func() bool) (int, bool, error) {
	const op = "sweep erased users"
	kc := expression.Key(attrPK).Equal(expression.Value(erasedPK()))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return 0, false, fail(op, err)
	}
	var due []erasedItem
	cutoff := s.now().Add(-eraseGrace).UnixMilli()
	err = s.query(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(true),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, raw := range page {
			var it erasedItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return false, err
			}
			if it.Since <= cutoff {
				due = append(due, it)
			}
		}
		return true, nil
	})
	if err != nil {
		return 0, false, err
	}
	done := 0
	for _, it := range due {
		if stop() {
			return done, false, nil
		}
		empty, err := s.eraseItems(ctx, it.Tenant, it.User, stop)
		if err != nil {
			return done, false, err
		}
		if !empty {
			return done, false, nil
		}
		if err := s.deleteAll(ctx, op, []map[string]types.AttributeValue{key(userPK(it.Tenant, it.User), userSK()), key(erasedPK(), erasedSK(it.Tenant, it.User))}); err != nil {
			return done, false, err
		}
		done++
	}
	return done, true, nil
}

// endAll ends sessions of a user for reason: transactions of up to 100 conditional updates,
// a few at a time, so that thousands end in a few dozen requests (one round trip each for
// thousands would not fit a function's time). A session whose condition fails (it ended
// meanwhile, or is gone) is left out and the rest of its transaction is written again.
// It returns how many it ended.
func (s *Store) endAll(ctx context.Context, op, tenant, user string, ids []string, reason string) (int, error) {
	const perTransaction = 100
	sem := make(chan struct{}, endParallel)
	type result struct {
		ended int
		err   error
	}
	results := make(chan result, len(ids)/perTransaction+1)
	for len(ids) > 0 {
		n := min(perTransaction, len(ids))
		chunk := ids[:n]
		ids = ids[n:]
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			n, err := s.endChunk(ctx, op, tenant, user, chunk, reason)
			results <- result{n, err}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(results)
	ended := 0
	for r := range results {
		if r.err != nil {
			return ended, r.err
		}
		ended += r.ended
	}
	return ended, nil
}

// endParallel is how many transactions of ends are in flight at once.
const endParallel = 4

func (s *Store) endChunk(ctx context.Context, op, tenant, user string, ids []string, reason string) (int, error) {
	for attempt := 0; len(ids) > 0; attempt++ {
		if attempt > len(ids) {
			return 0, fail(op, errors.New("ending sessions: the transaction kept failing"))
		}
		now := s.now().Truncate(time.Millisecond)
		cond := expression.AttributeExists(expression.Name(attrPK)).
			And(expression.Name("status").Equal(expression.Value(pulse.StatusActive))).
			And(expression.Name("exp").GreaterThan(expression.Value(now.UnixMilli())))
		items := make([]types.TransactWriteItem, len(ids))
		for i, id := range ids {
			// One expression a session: its entry among the tenant's ends has the session's shard.
			expr, err := expression.NewBuilder().WithUpdate(s.endUpdate(tenant, id, now, reason)).WithCondition(cond).Build()
			if err != nil {
				return 0, fail(op, err)
			}
			items[i] = types.TransactWriteItem{Update: &types.Update{Key: key(userPK(tenant, user), sessionSK(id)),
				UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
				ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}}
		}
		err := s.transact(ctx, op, items...)
		var ce *cancelledError
		if err == nil {
			return len(ids), nil
		} else if !errors.As(err, &ce) {
			return 0, err
		}
		var retry []string
		for i, r := range ce.Reasons {
			if aws.ToString(r.Code) != "ConditionalCheckFailed" && i < len(ids) {
				retry = append(retry, ids[i])
			}
		}
		ids = retry
	}
	return 0, nil
}
