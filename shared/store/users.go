package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

type userItem struct {
	PK      string   `dynamodbav:"pk"`
	SK      string   `dynamodbav:"sk"`
	Type    string   `dynamodbav:"type"`
	Tenant  string   `dynamodbav:"tenant"`
	ID      string   `dynamodbav:"uid"`
	Name    string   `dynamodbav:"name"`
	UType   string   `dynamodbav:"utype"`
	Roles   []string `dynamodbav:"roles"`
	Created int64    `dynamodbav:"created"`
	Updated int64    `dynamodbav:"updated"`
}

func (it *userItem) user() *pulse.User {
	u := &pulse.User{TenantID: it.Tenant, ID: it.ID, Name: it.Name, Type: it.UType, Roles: it.Roles,
		CreatedAt: time.UnixMilli(it.Created), UpdatedAt: time.UnixMilli(it.Updated)}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u
}

// PutUser creates or replaces a user's profile in one write, and reports whether it created it.
func (s *Store) PutUser(ctx context.Context, u pulse.User) (*pulse.User, bool, error) {
	now := s.now().UnixMilli()
	if u.Roles == nil {
		u.Roles = []string{}
	}
	upd := expression.Set(expression.Name("type"), expression.Value("user")).
		Set(expression.Name("tenant"), expression.Value(u.TenantID)).
		Set(expression.Name("uid"), expression.Value(u.ID)).
		Set(expression.Name("name"), expression.Value(u.Name)).
		Set(expression.Name("utype"), expression.Value(u.Type)).
		Set(expression.Name("roles"), expression.Value(u.Roles)).
		Set(expression.Name("updated"), expression.Value(now)).
		Set(expression.Name("created"), expression.IfNotExists(expression.Name("created"), expression.Value(now)))
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return nil, false, fail("put user", err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(userPK(u.TenantID, u.ID), userSK()),
		UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllOld, ReturnConsumedCapacity: measure,
	})
	if err != nil {
		return nil, false, fail("put user", err)
	}
	s.recordOne(ctx, true, out.ConsumedCapacity)
	// No old image means this write created the user.
	created := len(out.Attributes) == 0
	it := userItem{Tenant: u.TenantID, ID: u.ID, Name: u.Name, UType: u.Type, Roles: u.Roles, Created: now, Updated: now}
	if !created {
		var old userItem
		if err := attributevalue.UnmarshalMap(out.Attributes, &old); err != nil {
			return nil, false, fail("put user", err)
		}
		it.Created = old.Created
	}
	return it.user(), created, nil
}

// GetUser returns a user; ENOTFOUND when the tenant has no such user.
func (s *Store) GetUser(ctx context.Context, tenant, id string) (*pulse.User, error) {
	var it userItem
	if found, err := s.get(ctx, "get user", userPK(tenant, id), userSK(), true, &it); err != nil {
		return nil, err
	} else if !found {
		return nil, pulse.Errorf(pulse.ENOTFOUND, "User %s not found.", id)
	}
	return it.user(), nil
}

// DeleteUser erases a user with everything in their partition: sessions, per-day activity and
// token references (with the tokens themselves). The profile goes last, so that an interrupted
// delete can simply be run again. ENOTFOUND when there is no such user.
func (s *Store) DeleteUser(ctx context.Context, tenant, id string) error {
	kc := expression.Key(attrPK).Equal(expression.Value(userPK(tenant, id)))
	proj := expression.NamesList(expression.Name(attrPK), expression.Name(attrSK), expression.Name("token_hash"))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).WithProjection(proj).Build()
	if err != nil {
		return fail("delete user", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: measure,
	})
	var keys []map[string]types.AttributeValue
	found := false
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fail("delete user", err)
		}
		s.recordOne(ctx, false, out.ConsumedCapacity)
		for _, it := range out.Items {
			if sk, _ := it[attrSK].(*types.AttributeValueMemberS); sk != nil && sk.Value == userSK() {
				found = true
				continue
			}
			if h, _ := it["token_hash"].(*types.AttributeValueMemberS); h != nil {
				keys = append(keys, key(tokenPK(h.Value), tokenSK()))
			}
			keys = append(keys, map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]})
		}
	}
	if !found {
		return pulse.Errorf(pulse.ENOTFOUND, "User %s not found.", id)
	}
	if err := s.deleteAll(ctx, keys); err != nil {
		return fail("delete user", err)
	}
	return s.deleteAll(ctx, []map[string]types.AttributeValue{key(userPK(tenant, id), userSK())})
}

// deleteAll deletes items by key.
func (s *Store) deleteAll(ctx context.Context, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	return s.batchWrite(ctx, reqs)
}

// batchWrite sends write requests 25 to a batch, and retries what DynamoDB leaves unprocessed
// (it does so under throttling) with backoff until the context ends.
func (s *Store) batchWrite(ctx context.Context, all []types.WriteRequest) error {
	for len(all) > 0 {
		n := min(25, len(all))
		reqs := all[:n]
		all = all[n:]
		for attempt := 0; len(reqs) > 0; attempt++ {
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return fail("batch write", ctx.Err())
				case <-time.After(backoff(attempt)):
				}
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: reqs}, ReturnConsumedCapacity: measure,
			})
			if err != nil {
				return fail("batch write", err)
			}
			s.record(ctx, true, out.ConsumedCapacity...)
			reqs = out.UnprocessedItems[s.table]
		}
	}
	return nil
}

// backoff is the wait before retry attempt n (n ≥ 1): exponential from 50 ms, capped at 2 s.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n-1, 6)
	return min(d, 2*time.Second)
}
