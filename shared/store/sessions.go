package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// sessionItem is a session as stored. Times are Unix milliseconds, so that the order of
// heartbeats within a second is kept; the API shows seconds.
type sessionItem struct {
	PK          string   `dynamodbav:"pk"`
	SK          string   `dynamodbav:"sk"`
	ActivePK    string   `dynamodbav:"active_pk,omitempty"`
	ActiveSK    string   `dynamodbav:"active_sk,omitempty"`
	ExpPK       string   `dynamodbav:"exp_pk,omitempty"`
	ExpSK       string   `dynamodbav:"exp_sk,omitempty"`
	Type        string   `dynamodbav:"type"`
	Tenant      string   `dynamodbav:"tenant"`
	User        string   `dynamodbav:"uid"`
	ID          string   `dynamodbav:"sid"`
	Key         string   `dynamodbav:"skey"`
	Clients     []string `dynamodbav:"clients,stringset,omitempty"`
	Initiated   int64    `dynamodbav:"init"`
	Last        int64    `dynamodbav:"last"`
	Expires     int64    `dynamodbav:"exp"`
	HardExpires int64    `dynamodbav:"hexp"`
	Day         string   `dynamodbav:"day"`
	Status      string   `dynamodbav:"status"`
	Ended       int64    `dynamodbav:"ended,omitempty"`
	Reason      string   `dynamodbav:"reason,omitempty"`
	IP          string   `dynamodbav:"ip,omitempty"`
	UA          string   `dynamodbav:"ua,omitempty"`
	Browser     string   `dynamodbav:"browser,omitempty"`
	Version     string   `dynamodbav:"bver,omitempty"`
	Major       int      `dynamodbav:"bmajor,omitempty"`
	OS          string   `dynamodbav:"os,omitempty"`
	CountryCode string   `dynamodbav:"cc,omitempty"`
	Country     string   `dynamodbav:"country,omitempty"`
	City        string   `dynamodbav:"city,omitempty"`
	Continent   string   `dynamodbav:"continent,omitempty"`
	Lat         string   `dynamodbav:"lat,omitempty"`
	Lon         string   `dynamodbav:"lon,omitempty"`
	Fingerprint string   `dynamodbav:"fp"`
	TTL         int64    `dynamodbav:"ttl"`
}

func (it *sessionItem) session() *pulse.Session {
	s := &pulse.Session{
		TenantID: it.Tenant, UserID: it.User, ID: it.ID, Key: it.Key, ClientIDs: it.Clients,
		InitiatedAt: time.UnixMilli(it.Initiated), LastActivity: time.UnixMilli(it.Last),
		ExpiresAt: time.UnixMilli(it.Expires), HardExpires: time.UnixMilli(it.HardExpires),
		EndReason: it.Reason, IPAddress: it.IP,
		Device:   pulse.Device{UserAgent: it.UA, Browser: it.Browser, Version: it.Version, MajorVersion: it.Major, OS: it.OS},
		Location: pulse.Location{CountryCode: it.CountryCode, Country: it.Country, City: it.City, Continent: it.Continent, Latitude: it.Lat, Longitude: it.Lon},
	}
	if it.Ended != 0 {
		s.EndedAt = time.UnixMilli(it.Ended)
	}
	if s.ClientIDs == nil {
		s.ClientIDs = []string{}
	}
	return s
}

// dayItem records that a user was active on a day; the Days index finds it by tenant and month.
type dayItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	DayPK  string `dynamodbav:"day_pk"`
	DaySK  string `dynamodbav:"day_sk"`
	Type   string `dynamodbav:"type"`
	Tenant string `dynamodbav:"tenant"`
	User   string `dynamodbav:"uid"`
	Day    string `dynamodbav:"day"`
	TTL    int64  `dynamodbav:"ttl"`
}

func (s *Store) dayItem(tenant, user, day string) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(dayItem{
		PK: userPK(tenant, user), SK: daySK(day), DayPK: dayIndexPK(tenant, day[:7]), DaySK: dayIndexSK(day, user),
		Type: "day", Tenant: tenant, User: user, Day: day,
		TTL: s.now().Add(24*time.Hour + s.policy.ActivityKeep).Unix(),
	})
}

// dayOf returns the calendar day of t in zone (UTC when nil), as YYYY-MM-DD.
func dayOf(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.UTC
	}
	return t.In(zone).Format(time.DateOnly)
}

// NewSession is what starting a session needs; the caller has parsed and validated it.
type NewSession struct {
	TenantID  string
	UserID    string
	SessionID string // "" to generate one
	ClientID  string
	IP        string
	Device    pulse.Device
	Location  pulse.Location
	Zone      *time.Location // the tenant's, for the day of activity
}

// fingerprint identifies what a create request asked for, so that a retry with the same
// session ID is told apart from a different request reusing it.
func (n *NewSession) fingerprint() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{n.ClientID, n.IP, n.Device.UserAgent}, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// CreateSession starts a session, creating the user when the tenant has none by that ID, and
// records the day's activity, all in one transaction. With a caller-chosen session ID the call
// is idempotent: the same request returns the stored session (created=false); a different one
// is ECONFLICT.
func (s *Store) CreateSession(ctx context.Context, n NewSession) (*pulse.Session, bool, error) {
	now := s.now().Truncate(time.Millisecond)
	if n.SessionID == "" {
		n.SessionID = s.ids.NewID()
	}
	hard := now.Add(s.policy.MaxLifetime)
	exp := s.policy.Expiry(now, hard)
	keySum := sha256.Sum256(s.ids.NewSecret(32))
	it := sessionItem{
		PK: userPK(n.TenantID, n.UserID), SK: sessionSK(n.SessionID),
		ActivePK: activeIndexPK(n.TenantID, now, shardOf(n.SessionID, s.shards)), ActiveSK: activeIndexSK(n.UserID, n.SessionID),
		ExpPK: expiryIndexPK(exp, shardOf(n.SessionID, expiryShards)), ExpSK: expiryIndexSK(n.TenantID, n.UserID, n.SessionID),
		Type: "session", Tenant: n.TenantID, User: n.UserID, ID: n.SessionID,
		Key: strings.ToUpper(hex.EncodeToString(keySum[:])), Clients: []string{n.ClientID},
		Initiated: now.UnixMilli(), Last: now.UnixMilli(), Expires: exp.UnixMilli(), HardExpires: hard.UnixMilli(),
		Day: dayOf(now, n.Zone), Status: pulse.StatusActive, IP: n.IP,
		UA: n.Device.UserAgent, Browser: n.Device.Browser, Version: n.Device.Version, Major: n.Device.MajorVersion, OS: n.Device.OS,
		CountryCode: n.Location.CountryCode, Country: n.Location.Country, City: n.Location.City, Continent: n.Location.Continent,
		Lat: n.Location.Latitude, Lon: n.Location.Longitude,
		Fingerprint: n.fingerprint(),
		// Kept until retention after the latest moment it can end; cleanup shortens nothing.
		TTL: hard.Add(s.policy.Retention).Unix(),
	}
	sess, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, false, fail("create session", err)
	}
	day, err := s.dayItem(n.TenantID, n.UserID, it.Day)
	if err != nil {
		return nil, false, fail("create session", err)
	}
	// The user springs into being with its first session; an existing profile is untouched.
	ms := now.UnixMilli()
	userUpd, err := expression.NewBuilder().WithUpdate(
		expression.Set(expression.Name("type"), expression.Value("user")).
			Set(expression.Name("tenant"), expression.Value(n.TenantID)).
			Set(expression.Name("uid"), expression.Value(n.UserID)).
			Set(expression.Name("name"), expression.IfNotExists(expression.Name("name"), expression.Value(""))).
			Set(expression.Name("utype"), expression.IfNotExists(expression.Name("utype"), expression.Value(""))).
			Set(expression.Name("roles"), expression.IfNotExists(expression.Name("roles"), expression.Value([]string{}))).
			Set(expression.Name("created"), expression.IfNotExists(expression.Name("created"), expression.Value(ms))).
			Set(expression.Name("updated"), expression.IfNotExists(expression.Name("updated"), expression.Value(ms)))).Build()
	if err != nil {
		return nil, false, fail("create session", err)
	}
	out, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &s.table, Item: sess, ConditionExpression: aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Update: &types.Update{TableName: &s.table, Key: key(userPK(n.TenantID, n.UserID), userSK()),
				UpdateExpression: userUpd.Update(), ExpressionAttributeNames: userUpd.Names(), ExpressionAttributeValues: userUpd.Values()}},
			{Put: &types.Put{TableName: &s.table, Item: day}},
		},
		ReturnConsumedCapacity: measure,
	})
	if code, old := cancelledBy(err, 0); code == "ConditionalCheckFailed" {
		var prev sessionItem
		if old == nil {
			return nil, false, fail("create session", err)
		}
		if err := attributevalue.UnmarshalMap(old, &prev); err != nil {
			return nil, false, fail("create session", err)
		}
		if prev.Fingerprint != it.Fingerprint {
			return nil, false, pulse.Errorf(pulse.ECONFLICT, "Session %s already exists with different attributes.", n.SessionID)
		}
		return prev.session(), false, nil
	} else if err != nil {
		return nil, false, fail("create session", err)
	}
	s.record(ctx, true, out.ConsumedCapacity...)
	return it.session(), true, nil
}

// GetSession returns one of a user's sessions, ended ones included; ENOTFOUND when the user has
// no such session in this tenant.
func (s *Store) GetSession(ctx context.Context, tenant, user, id string) (*pulse.Session, error) {
	var it sessionItem
	if found, err := s.get(ctx, "get session", userPK(tenant, user), sessionSK(id), true, &it); err != nil {
		return nil, err
	} else if !found {
		return nil, pulse.Errorf(pulse.ENOTFOUND, "Session %s not found.", id)
	}
	return it.session(), nil
}

// Activity is a heartbeat on a session. Nil or empty fields leave what is stored.
type Activity struct {
	TenantID  string
	UserID    string
	SessionID string
	ClientID  string
	IP        string
	Device    *pulse.Device
	Location  *pulse.Location
	Zone      *time.Location
}

// RecordActivity marks a live session active now and slides its expiry. In steady state (same
// active-index bucket, same day) it is one conditional UpdateItem that writes no index; the
// session moves in the active index once per bucket, and a user-day item is written only on
// the first activity of the session on a new day. Activity on an ended or expired session is
// ECONFLICT; the condition on the write decides, not an earlier read.
func (s *Store) RecordActivity(ctx context.Context, a Activity) error {
	now := s.now().Truncate(time.Millisecond)
	exp := now.Add(s.policy.IdleTimeout)
	for attempt := 0; attempt < 2; attempt++ {
		old, err := s.touch(ctx, a, now, exp)
		if err == nil {
			if old.Day != dayOf(now, a.Zone) {
				return s.putDay(ctx, a.TenantID, a.UserID, dayOf(now, a.Zone))
			}
			return nil
		}
		failed, item := conditionFailed(err)
		if !failed {
			return fail("record activity", err)
		}
		if item == nil {
			return pulse.Errorf(pulse.ENOTFOUND, "Session %s not found.", a.SessionID)
		}
		var cur sessionItem
		if err := attributevalue.UnmarshalMap(item, &cur); err != nil {
			return fail("record activity", err)
		}
		switch {
		case cur.Status != pulse.StatusActive || cur.Expires <= now.UnixMilli():
			return pulse.Errorf(pulse.ECONFLICT, "Session %s has ended.", a.SessionID)
		case cur.Last > now.UnixMilli():
			// A later heartbeat is already stored: its time, address and browser stand. The
			// client this one names still joins the session's clients (a set: order-free).
			return s.addClient(ctx, a)
		case cur.HardExpires < exp.UnixMilli():
			exp = time.UnixMilli(cur.HardExpires) // near the end of its lifetime: cap, try again
		default:
			return fail("record activity", err)
		}
	}
	return pulse.Errorf(pulse.ECONFLICT, "Session %s has ended.", a.SessionID)
}

// touch is the heartbeat's one write. It returns the old values of what it changed.
func (s *Store) touch(ctx context.Context, a Activity, now, exp time.Time) (*sessionItem, error) {
	upd := expression.Set(expression.Name("last"), expression.Value(now.UnixMilli())).
		Set(expression.Name("exp"), expression.Value(exp.UnixMilli())).
		Set(expression.Name("day"), expression.Value(dayOf(now, a.Zone))).
		// Rewriting the same key values writes no index item; a new bucket moves the session.
		Set(expression.Name(attrActivePK), expression.Value(activeIndexPK(a.TenantID, now, shardOf(a.SessionID, s.shards)))).
		Set(expression.Name(attrActiveSK), expression.Value(activeIndexSK(a.UserID, a.SessionID))).
		Set(expression.Name(attrExpPK), expression.Value(expiryIndexPK(exp, shardOf(a.SessionID, expiryShards)))).
		Set(expression.Name(attrExpSK), expression.Value(expiryIndexSK(a.TenantID, a.UserID, a.SessionID)))
	if a.IP != "" {
		upd = upd.Set(expression.Name("ip"), expression.Value(a.IP))
	}
	if d := a.Device; d != nil {
		upd = upd.Set(expression.Name("ua"), expression.Value(d.UserAgent)).
			Set(expression.Name("browser"), expression.Value(d.Browser)).
			Set(expression.Name("bver"), expression.Value(d.Version)).
			Set(expression.Name("bmajor"), expression.Value(d.MajorVersion)).
			Set(expression.Name("os"), expression.Value(d.OS))
	}
	if l := a.Location; l != nil && l.CountryCode != "" {
		upd = upd.Set(expression.Name("cc"), expression.Value(l.CountryCode)).
			Set(expression.Name("country"), expression.Value(l.Country)).
			Set(expression.Name("city"), expression.Value(l.City)).
			Set(expression.Name("continent"), expression.Value(l.Continent)).
			Set(expression.Name("lat"), expression.Value(l.Latitude)).
			Set(expression.Name("lon"), expression.Value(l.Longitude))
	}
	if a.ClientID != "" {
		upd = upd.Add(expression.Name("clients"), expression.Value(&types.AttributeValueMemberSS{Value: []string{a.ClientID}}))
	}
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.Name("status").Equal(expression.Value(pulse.StatusActive))).
		And(expression.Name("exp").GreaterThan(expression.Value(now.UnixMilli()))).
		And(expression.Name("hexp").GreaterThanEqual(expression.Value(exp.UnixMilli()))).
		And(expression.Name("last").LessThanEqual(expression.Value(now.UnixMilli())))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(userPK(a.TenantID, a.UserID), sessionSK(a.SessionID)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueUpdatedOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              measure,
	})
	if err != nil {
		return nil, err
	}
	s.recordOne(ctx, true, out.ConsumedCapacity)
	var old sessionItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &old); err != nil {
		return nil, err
	}
	return &old, nil
}

// addClient adds a heartbeat's client to a live session without touching anything else.
func (s *Store) addClient(ctx context.Context, a Activity) error {
	if a.ClientID == "" {
		return nil
	}
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("clients"), expression.Value(&types.AttributeValueMemberSS{Value: []string{a.ClientID}}))).
		WithCondition(expression.Name("status").Equal(expression.Value(pulse.StatusActive))).Build()
	if err != nil {
		return fail("record activity", err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(userPK(a.TenantID, a.UserID), sessionSK(a.SessionID)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ReturnConsumedCapacity: measure,
	})
	if failed, _ := conditionFailed(err); failed {
		return pulse.Errorf(pulse.ECONFLICT, "Session %s has ended.", a.SessionID)
	} else if err != nil {
		return fail("record activity", err)
	}
	s.recordOne(ctx, true, out.ConsumedCapacity)
	return nil
}

// putDay records that user was active on day. Writing it twice is harmless.
func (s *Store) putDay(ctx context.Context, tenant, user, day string) error {
	item, err := s.dayItem(tenant, user, day)
	if err != nil {
		return fail("record day", err)
	}
	out, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ReturnConsumedCapacity: measure})
	if err != nil {
		return fail("record day", err)
	}
	s.recordOne(ctx, true, out.ConsumedCapacity)
	return nil
}

// RevokeSession ends a live session at once and takes it out of the active index. Revoking an
// ended session changes nothing and is not an error; ENOTFOUND when there is no such session.
func (s *Store) RevokeSession(ctx context.Context, tenant, user, id string) error {
	now := s.now().Truncate(time.Millisecond)
	upd := expression.Set(expression.Name("status"), expression.Value(pulse.StatusEnded)).
		Set(expression.Name("ended"), expression.Value(now.UnixMilli())).
		Set(expression.Name("reason"), expression.Value(pulse.EndRevoked)).
		Set(expression.Name(attrTTL), expression.Value(now.Add(s.policy.Retention).Unix())).
		Remove(expression.Name(attrActivePK)).Remove(expression.Name(attrActiveSK)).
		Remove(expression.Name(attrExpPK)).Remove(expression.Name(attrExpSK))
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.Name("status").Equal(expression.Value(pulse.StatusActive))).
		And(expression.Name("exp").GreaterThan(expression.Value(now.UnixMilli())))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fail("revoke session", err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(userPK(tenant, user), sessionSK(id)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              measure,
	})
	if failed, item := conditionFailed(err); failed {
		if item == nil {
			return pulse.Errorf(pulse.ENOTFOUND, "Session %s not found.", id)
		}
		return nil // already ended (revoked, or expired and awaiting cleanup)
	} else if err != nil {
		return fail("revoke session", err)
	}
	s.recordOne(ctx, true, out.ConsumedCapacity)
	return nil
}

// RevokeUserSessions revokes every live session of a user and returns how many it ended;
// ENOTFOUND for an unknown user. Its cost grows with that user's sessions only.
func (s *Store) RevokeUserSessions(ctx context.Context, tenant, user string) (int, error) {
	items, found, err := s.userSessions(ctx, tenant, user)
	if err != nil {
		return 0, err
	} else if !found {
		return 0, pulse.Errorf(pulse.ENOTFOUND, "User %s not found.", user)
	}
	now := s.now()
	n := 0
	for _, it := range items {
		if it.session().Live(now) {
			if err := s.RevokeSession(ctx, tenant, user, it.ID); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// userSessions returns all of a user's sessions and whether the user exists: one Query over
// the user's partition from the first session key on, which reaches the profile ("USER" sorts
// after "S#") and nothing else of the tenant.
func (s *Store) userSessions(ctx context.Context, tenant, user string) ([]sessionItem, bool, error) {
	kc := expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user))).
		And(expression.Key(attrSK).GreaterThanEqual(expression.Value(sessionPrefix)))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, false, fail("list sessions", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ConsistentRead: aws.Bool(true), ReturnConsumedCapacity: measure,
	})
	var items []sessionItem
	found := false
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, fail("list sessions", err)
		}
		s.recordOne(ctx, false, out.ConsumedCapacity)
		for _, raw := range out.Items {
			sk, _ := raw[attrSK].(*types.AttributeValueMemberS)
			switch {
			case sk == nil:
			case sk.Value == userSK():
				found = true
			case strings.HasPrefix(sk.Value, sessionPrefix):
				var it sessionItem
				if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
					return nil, false, fail("list sessions", err)
				}
				items = append(items, it)
			}
		}
	}
	return items, found, nil
}
