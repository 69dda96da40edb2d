package store

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// ActiveSession is a session active now, with its user's profile (nil if the user was deleted
// meanwhile).
type ActiveSession struct {
	Session *pulse.Session
	User    *pulse.User
}

// ActiveSessions returns the tenant's sessions that are live and were active within the active
// window, newest activity first. It reads the active index's buckets that overlap the window
// (one Query per bucket and shard), then the sessions and their users by key: its cost grows
// with the active sessions, never with ended or long-idle ones, which are not in those buckets.
func (s *Store) ActiveSessions(ctx context.Context, tenant string) ([]ActiveSession, error) {
	const op = "active sessions"
	now := s.now()
	since := now.Add(-s.policy.ActiveWindow)
	var keys []map[string]types.AttributeValue
	for b := since.Truncate(activeBucket); !b.After(now); b = b.Add(activeBucket) {
		for shard := 0; shard < s.shards; shard++ {
			k, err := s.queryKeys(ctx, op, indexActive, attrActivePK, activeIndexPK(tenant, b, shard))
			if err != nil {
				return nil, err
			}
			keys = append(keys, k...)
		}
	}
	raw, err := s.batchGet(ctx, op, keys)
	if err != nil {
		return nil, err
	}
	var active []ActiveSession
	users := map[string]bool{}
	for _, item := range raw {
		var it sessionItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fail(op, err)
		}
		sess := it.session()
		if !sess.Live(now) || sess.LastActivity.Before(since) {
			continue // TTL and cleanup are late; the read decides
		}
		active = append(active, ActiveSession{Session: sess})
		users[it.User] = true
	}
	userKeys := make([]map[string]types.AttributeValue, 0, len(users))
	for u := range users {
		userKeys = append(userKeys, key(userPK(tenant, u), userSK()))
	}
	rawUsers, err := s.batchGet(ctx, op, userKeys)
	if err != nil {
		return nil, err
	}
	byID := map[string]*pulse.User{}
	for _, item := range rawUsers {
		var it userItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fail(op, err)
		}
		byID[it.ID] = it.user()
	}
	for i := range active {
		active[i].User = byID[active[i].Session.UserID]
	}
	sort.Slice(active, func(i, j int) bool {
		a, b := active[i].Session, active[j].Session
		if !a.LastActivity.Equal(b.LastActivity) {
			return a.LastActivity.After(b.LastActivity)
		}
		return a.ID < b.ID
	})
	return active, nil
}

// queryKeys returns the table keys of every item of a keys-only index partition.
func (s *Store) queryKeys(ctx context.Context, op, index, attr, value string) ([]map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attr).Equal(expression.Value(value))).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var keys []map[string]types.AttributeValue
	err = s.query(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(index), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			keys = append(keys, map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]})
		}
		return true, nil
	})
	return keys, err
}

// DayUsers is the users active on one day.
type DayUsers struct {
	Day   string // YYYY-MM-DD
	Users []string
}

// DailyActiveUsers returns, for each day from first to last (YYYY-MM-DD, both included) that
// had activity, the distinct users active on it, newest day first. One Query per month
// touched on the Days index; the cost grows with the user-days in the range. Days older than
// the activity retention hold nothing and are not read.
func (s *Store) DailyActiveUsers(ctx context.Context, tenant, first, last string) ([]DayUsers, error) {
	const op = "daily active users"
	if horizon := s.now().Add(-s.policy.ActivityKeep - 48*time.Hour).UTC().Format(time.DateOnly); first < horizon {
		first = horizon
	}
	if first > last {
		return nil, nil
	}
	month, err := time.Parse("2006-01", first[:7])
	if err != nil {
		return nil, pulse.Invalid(op, map[string][]string{"first": {"not a day: " + first}})
	}
	var days []DayUsers
	for ; month.Format("2006-01") <= last[:7]; month = month.AddDate(0, 1, 0) {
		kc := expression.Key(attrDayPK).Equal(expression.Value(dayIndexPK(tenant, month.Format("2006-01")))).
			And(expression.Key(attrDaySK).Between(expression.Value(first), expression.Value(last+"$"))) // '$' sorts after '#'
		expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
		if err != nil {
			return nil, fail(op, err)
		}
		err = s.query(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(indexDays), KeyConditionExpression: expr.KeyCondition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}, func(page []map[string]types.AttributeValue) (bool, error) {
			for _, it := range page {
				sk, _ := it[attrDaySK].(*types.AttributeValueMemberS)
				if sk == nil {
					continue
				}
				day, user, ok := strings.Cut(sk.Value, "#")
				if !ok {
					continue
				}
				if n := len(days); n == 0 || days[n-1].Day != day {
					days = append(days, DayUsers{Day: day})
				}
				days[len(days)-1].Users = append(days[len(days)-1].Users, user)
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	for i, j := 0, len(days)-1; i < j; i, j = i+1, j-1 {
		days[i], days[j] = days[j], days[i]
	}
	return days, nil
}

// RecordDays records that user was active on each of days (YYYY-MM-DD), in batches: for
// importing history and for demo data. Recording a day twice is harmless.
func (s *Store) RecordDays(ctx context.Context, tenant, user string, days []string) error {
	var reqs []types.WriteRequest
	for _, d := range days {
		item, err := s.dayItem(tenant, user, d)
		if err != nil {
			return fail("record days", err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	return s.batchWrite(ctx, "record days", reqs)
}

// ListSessions returns all of a user's sessions, ended ones included; ENOTFOUND for an unknown
// user. One Query over the user's partition: the cost grows with that user's sessions only.
func (s *Store) ListSessions(ctx context.Context, tenant, user string) ([]*pulse.Session, error) {
	items, found, err := s.userSessions(ctx, tenant, user)
	if err != nil {
		return nil, err
	} else if !found {
		return nil, pulse.NotFound("list sessions", pulse.EntityUser, user)
	}
	out := make([]*pulse.Session, len(items))
	for i := range items {
		out[i] = items[i].session()
	}
	return out, nil
}
