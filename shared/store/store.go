// Package store keeps Pulse in one DynamoDB table: tenants and API keys, users, sessions and
// per-day activity. Every read is a GetItem or a Query on a key, never a Scan; every invariant
// is a condition on the write that needs it. Storage structs stay in this package: key
// attributes never reach the API.
package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Store reads and writes Pulse's table.
type Store struct {
	db     API
	table  string
	now    pulse.Clock
	ids    pulse.IDs
	policy pulse.SessionPolicy
	shards int
	meter  *Meter
}

// DefaultActiveShards is how many write shards the Active index has per tenant and bucket
// unless configured. The list reads the shards in parallel: at 20,000 active sessions, in
// process on DynamoDB Local, one shard answered in 1.3–2.0 s, four in 0.53–0.57 s, eight in
// 0.34–0.45 s, for 0.5 RCU more per shard and bucket read (8 RCU at least per list instead of
// 1); one shard would take writes up to about 300,000 active sessions.
const DefaultActiveShards = 8

// Options configures a Store. Zero values take the defaults.
type Options struct {
	Table        string
	Now          pulse.Clock
	IDs          pulse.IDs
	Policy       pulse.SessionPolicy
	ActiveShards int
	Meter        *Meter // adds up every call's capacity (tests, benchmarks); a context's meter wins
}

// New returns a Store on db.
func New(db API, o Options) *Store {
	s := &Store{db: db, table: o.Table, now: o.Now, ids: o.IDs, policy: o.Policy, shards: o.ActiveShards, meter: o.Meter}
	if s.now == nil {
		s.now = pulse.SystemClock
	}
	if s.ids == nil {
		s.ids = pulse.RandomIDs{}
	}
	if s.policy == (pulse.SessionPolicy{}) {
		s.policy = pulse.DefaultSessionPolicy
	}
	if s.policy.MaxPerUser < 1 {
		s.policy.MaxPerUser = pulse.DefaultSessionPolicy.MaxPerUser
	}
	if s.policy.LimitPolicy == "" {
		s.policy.LimitPolicy = pulse.DefaultSessionPolicy.LimitPolicy
	}
	if s.policy.NewDeviceWindow <= 0 {
		s.policy.NewDeviceWindow = pulse.DefaultSessionPolicy.NewDeviceWindow
	}
	if s.shards < 1 {
		s.shards = DefaultActiveShards
	}
	return s
}

// Policy returns the session rules the store enforces.
func (s *Store) Policy() pulse.SessionPolicy { return s.policy }

// Meter adds up what DynamoDB reports it consumed for the requests made with its context.
// Tests and benchmarks read it; production code never needs it.
type Meter struct {
	mu    sync.Mutex
	Calls int
	RCU   float64
	WCU   float64
	// FailedWrites counts writes (transaction items included) refused by their condition: AWS
	// charges them at least 1 WCU each, but DynamoDB Local reports no capacity for them.
	FailedWrites int
	// AWSRCU and AWSWCU are the same requests on AWS's accounting where DynamoDB Local's
	// differs: every transaction item charged twice by its own size (DynamoDB Local adds the
	// items' sizes up per table), failed conditional writes charged, and a Query that finds
	// nothing still charged its minimum (0.5 RCU, 1 when strongly consistent).
	AWSRCU float64
	AWSWCU float64
}

type meterKey struct{}

// WithMeter returns ctx whose store calls are added to m.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// Snapshot returns the totals so far.
func (m *Meter) Snapshot() (calls int, rcu, wcu float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Calls, m.RCU, m.WCU
}

// OnAWS returns the totals on AWS's accounting (see AWSRCU).
func (m *Meter) OnAWS() (rcu, wcu float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.AWSRCU, m.AWSWCU
}

// Reset sets the totals to zero.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls, m.RCU, m.WCU, m.FailedWrites, m.AWSRCU, m.AWSWCU = 0, 0, 0, 0, 0, 0
}

func (s *Store) meterOf(ctx context.Context) *Meter {
	if m, _ := ctx.Value(meterKey{}).(*Meter); m != nil {
		return m
	}
	return s.meter
}

// record adds one request's consumed capacity (nil: none reported) to the meter.
func (s *Store) record(ctx context.Context, write bool, c *types.ConsumedCapacity) {
	if c == nil {
		s.recordAll(ctx, write, nil)
		return
	}
	s.recordAll(ctx, write, []types.ConsumedCapacity{*c})
}

// recordAll adds one request's consumed capacity, per table, to the meter; AWS charges the
// same.
func (s *Store) recordAll(ctx context.Context, write bool, cc []types.ConsumedCapacity) {
	units := 0.0
	for _, c := range cc {
		units += aws.ToFloat64(c.CapacityUnits)
	}
	s.meterAdd(ctx, write, units, units)
}

// meterAdd adds one request: what DynamoDB reported, and what AWS would charge.
func (s *Store) meterAdd(ctx context.Context, write bool, reported, onAWS float64) {
	m := s.meterOf(ctx)
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls++
	if write {
		m.WCU += reported
		m.AWSWCU += onAWS
	} else {
		m.RCU += reported
		m.AWSRCU += onAWS
	}
}

// countFailedWrite counts a write refused by its condition (n items of a transaction): AWS
// charges at least 1 WCU a write, 2 a transaction item.
func (s *Store) countFailedWrite(ctx context.Context, n int, transaction bool) {
	if m := s.meterOf(ctx); m != nil {
		m.mu.Lock()
		m.Calls++
		m.FailedWrites += n
		if transaction {
			m.AWSWCU += 2 * float64(n)
		} else {
			m.AWSWCU += float64(n)
		}
		m.mu.Unlock()
	}
}

// fail wraps a DynamoDB error for the caller: throttling, timeouts and unreachable endpoints
// become EUNAVAILABLE (retry later), anything else EINTERNAL. The SDK's text stays in the
// error chain for the log and never reaches a response.
func fail(op string, err error) error {
	var perr *pulse.Error
	if errors.As(err, &perr) {
		return err
	}
	code := pulse.EINTERNAL
	if unavailable(err) {
		code = pulse.EUNAVAILABLE
	}
	return &pulse.Error{Code: code, Op: op, Err: fmt.Errorf("store: %s: %w", op, err)}
}

func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var quota *retry.MaxAttemptsError
	if errors.As(err, &quota) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable", "LimitExceededException":
			return true
		}
		return false
	}
	// Not an answer from DynamoDB at all: a connection that failed or broke.
	return true
}
