package store

import (
	"context"
	"errors"
	"time"

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
	// Erased is when the user's erasure began (Unix ms): a tombstone that every write creating
	// a session or a token for the user, and every read of theirs, checks. It stays until the
	// scheduled sweep has found the partition empty after eraseGrace.
	Erased int64 `dynamodbav:"erased,omitempty"`
	// Live is an upper bound of the user's live sessions: logins add to it (on the condition
	// that it is below the cap), ends leave it, and a reconciliation sets it to the live
	// sessions counted (makeRoom). LiveVer grows with every login and every reconciliation,
	// never back: a reconciliation is conditioned on it, so that it cannot act on a count that
	// a login has changed since, even one that came back to the same number.
	Live    int   `dynamodbav:"live,omitempty"`
	LiveVer int64 `dynamodbav:"lver,omitempty"`
	// Starts counts the user's sessions by the UTC day they started (YYYY-MM-DD), for the days
	// still listed (see Store.horizon): the session list's total_count, and where in the
	// user's history a page begins, without counting sessions. Logins add to it and prune the
	// days past the horizon, so it holds at most retention-in-days + 1 entries.
	Starts map[string]int `dynamodbav:"starts,omitempty"`
	// ClientStarts counts them by day and client ("<day>#<client ID>", clientStartKey): a
	// session counts once under each client it has had, on the day it started. A login counts
	// its client and prunes as Starts; a heartbeat that brings a session a new client counts it
	// in the same transaction (joinClient). The list filtered by client_id reads its total here
	// once Indexed says every listed session was counted.
	ClientStarts map[string]int `dynamodbav:"cstarts,omitempty"`
	// ClientsFrom is when ClientStarts last started again, empty, because it held
	// maxClientStarts entries (Unix ms; 0: never): it counts every session started since, and
	// not those started before on that day (restartClientCounts).
	ClientsFrom int64 `dynamodbav:"cfrom,omitempty"`
	// Indexed is from when every end of the user's sessions is known to enter the EndedLast
	// index, and every session and client to be counted in ClientStarts (Unix ms): 1 for a user
	// created since both exist, else a margin past the first login that saw the user without it
	// (older code may still be running meanwhile). Sessions ended or started before it are
	// missing from both, so the lists that need them read them only once those sessions have
	// left the list (Store.lastIndexed).
	Indexed int64 `dynamodbav:"ixs,omitempty"`
	// ExpIndexed is the same for the EndedExp index (the list by expires_at), which came a
	// version later: a user created between the two has Indexed 1 and ends without ended_exp.
	ExpIndexed int64 `dynamodbav:"exs,omitempty"`
	// ADays are the days (tenant's zone) of the last 31 whose activity the tenant's counters
	// hold, AHour the last hour they hold (YYYY-MM-DDTHH), AVer their version: a count is
	// conditioned on it, so it happens once (see stats.go).
	ADays map[string]int `dynamodbav:"adays,omitempty"`
	AHour string         `dynamodbav:"ahour,omitempty"`
	AVer  int            `dynamodbav:"aver,omitempty"`
	// Devices and Places are the browser-and-OS pairs and the country codes the user was seen
	// with, each with the last UTC day it was (devices.go): what tells a new device.
	Devices map[string]string `dynamodbav:"devices,omitempty"`
	Places  map[string]string `dynamodbav:"places,omitempty"`
}

func (it *userItem) user() *pulse.User {
	u := &pulse.User{TenantID: it.Tenant, ID: it.ID, Name: it.Name, Type: it.UType, Roles: it.Roles,
		CreatedAt: time.UnixMilli(it.Created), UpdatedAt: time.UnixMilli(it.Updated)}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u
}

// PutUser creates or replaces a user's profile, and reports whether it created it. Replacing is
// one write; creating is a transaction that also counts the user among the day's new users
// (zone decides the day; UTC when nil).
func (s *Store) PutUser(ctx context.Context, u pulse.User, zone *time.Location) (*pulse.User, bool, error) {
	const op = "put user"
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
	replace, err := expression.NewBuilder().WithUpdate(upd).WithCondition(expression.AttributeExists(expression.Name(attrPK)).
		And(expression.AttributeNotExists(expression.Name("erased")))).Build()
	if err != nil {
		return nil, false, fail(op, err)
	}
	create, err := expression.NewBuilder().WithUpdate(markIndexed(upd, false, nil, time.Time{})).WithCondition(expression.AttributeNotExists(expression.Name(attrPK))).Build()
	if err != nil {
		return nil, false, fail(op, err)
	}
	counted, err := s.countNew(u.TenantID, u.ID, time.UnixMilli(now), zone)
	if err != nil {
		return nil, false, fail(op, err)
	}
	for range 3 {
		out, err := s.updateItem(ctx, op, &dynamodb.UpdateItemInput{
			Key:              key(userPK(u.TenantID, u.ID), userSK()),
			UpdateExpression: replace.Update(), ConditionExpression: replace.Condition(),
			ExpressionAttributeNames: replace.Names(), ExpressionAttributeValues: replace.Values(),
			ReturnValues: types.ReturnValueAllOld, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if failed, item := conditionFailed(err); failed && item != nil {
			return nil, false, pulse.Conflict(op, pulse.EntityUser, u.ID, pulse.ReasonErasing)
		} else if failed {
			// No such user: create it, unless it was created meanwhile (then replace it).
			err = s.transact(ctx, op, types.TransactWriteItem{Update: &types.Update{Key: key(userPK(u.TenantID, u.ID), userSK()),
				UpdateExpression: create.Update(), ConditionExpression: create.Condition(),
				ExpressionAttributeNames: create.Names(), ExpressionAttributeValues: create.Values()}}, counted)
			if conflicted(err) {
				continue
			} else if err != nil {
				return nil, false, fail(op, err)
			}
			it := userItem{Tenant: u.TenantID, ID: u.ID, Name: u.Name, UType: u.Type, Roles: u.Roles, Created: now, Updated: now}
			return it.user(), true, nil
		} else if err != nil {
			return nil, false, err
		}
		var old userItem
		if err := attributevalue.UnmarshalMap(out.Attributes, &old); err != nil {
			return nil, false, fail(op, err)
		}
		it := userItem{Tenant: u.TenantID, ID: u.ID, Name: u.Name, UType: u.Type, Roles: u.Roles, Created: old.Created, Updated: now}
		if old.Name != u.Name || old.UType != u.Type {
			if err := s.renameSessions(ctx, u); err != nil {
				return nil, false, err
			}
		}
		return it.user(), false, nil
	}
	return nil, false, fail(op, errors.New("the user kept changing: gave up after 3 rounds"))
}

// renameSessions copies a user's new name and type onto their live sessions, which the active
// list shows without reading the user. A login racing the rename read the user before it and
// is refused by its condition on "updated", so it reads the new name; the sessions here are
// bounded by the session cap.
func (s *Store) renameSessions(ctx context.Context, u pulse.User) error {
	const op = "rename sessions"
	live, err := s.liveSessions(ctx, op, u.TenantID, u.ID)
	if err != nil {
		return err
	}
	expr, err := expression.NewBuilder().WithUpdate(expression.Set(expression.Name("uname"), expression.Value(u.Name)).
		Set(expression.Name("utype"), expression.Value(u.Type))).
		WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return fail(op, err)
	}
	for _, ss := range live {
		_, err := s.updateItem(ctx, op, &dynamodb.UpdateItemInput{Key: key(userPK(u.TenantID, u.ID), sessionSK(ss.ID)),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
		if failed, _ := conditionFailed(err); !failed && err != nil {
			return err
		}
	}
	return nil
}

// GetUser returns a user; ENOTFOUND when the tenant has no such user.
func (s *Store) GetUser(ctx context.Context, tenant, id string) (*pulse.User, error) {
	const op = "get user"
	var it userItem
	if found, err := s.get(ctx, op, userPK(tenant, id), userSK(), true, &it); err != nil {
		return nil, err
	} else if !found || it.Erased != 0 {
		return nil, pulse.NotFound(op, pulse.EntityUser, id)
	}
	return it.user(), nil
}
