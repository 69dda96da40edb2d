// Package boot is what every function that reads DynamoDB does at its cold start and nothing
// more: it reads the configuration, builds the DynamoDB client, the store and the logger, and
// (for the HTTP functions) serves one surface through package lambdahttp. Each such surface
// composes itself from a *Base (manage.Open, admin.Open, engage.Open; the tasks cleanup.Open and
// publish.Open), and each generated main wires the one it serves: a function links its own
// surface and never another's, the dashboard's assets or EventBridge. The dashboard, which
// reads nothing, is served by lambdahttp alone and links neither this package nor the SDK.
package boot

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // tenants' IANA time zones, whatever the Lambda image holds

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/shared/lambdahttp"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Base is what every function shares, built once per cold start.
type Base struct {
	Config  Config
	Store   *store.Store
	Tenants *store.Tenants
	Log     *slog.Logger
	Now     pulse.Clock
	IDs     pulse.IDs
	// Getenv is the environment Load read, for what a single function configures beyond the
	// Base (the publisher's EventBridge client); nil when New built the Base.
	Getenv func(string) string
}

// Load reads the configuration and builds the Base of a Lambda function.
//
// The SDK is configured from the environment alone: the region, and the execution role's
// credentials that Lambda puts in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN, which last as long as the execution environment. That is all a function
// needs; the SDK's config package, which also reads shared files and links SSO, STS and
// sign-in clients, added about a millisecond to every cold start. AWS_ENDPOINT_URL_DYNAMODB
// (or AWS_ENDPOINT_URL) is honoured as the SDK does: how local runs reach DynamoDB Local.
func Load(getenv func(string) string) (*Base, error) {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	db, err := ClientFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	b := New(cfg, db, pulse.SystemClock, pulse.RandomIDs{}, lambdahttp.NewLogger(os.Stdout, cfg.LogLevel))
	b.Getenv = getenv
	return b, nil
}

// New builds a Base around a DynamoDB client; tests and the local server pass their own clock,
// IDs and client.
func New(cfg Config, db store.API, now pulse.Clock, ids pulse.IDs, log *slog.Logger) *Base {
	s := store.New(db, store.Options{Table: cfg.Table, Now: now, IDs: ids, Policy: cfg.Policy, ActiveShards: cfg.ActiveShards, Meter: cfg.Meter})
	return &Base{Config: cfg, Store: s, Tenants: store.NewTenants(s), Log: log, Now: now, IDs: ids}
}

// ClientFromEnv builds the DynamoDB client from the environment variables Lambda sets (see
// Load), with ClientOptions.
func ClientFromEnv(getenv func(string) string) (*dynamodb.Client, error) {
	region, creds, err := AWSFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	o := dynamodb.Options{Region: region, Credentials: creds}
	if u := cmp.Or(getenv("AWS_ENDPOINT_URL_DYNAMODB"), getenv("AWS_ENDPOINT_URL")); u != "" {
		o.BaseEndpoint = aws.String(u)
	}
	return dynamodb.New(o, ClientOptions), nil
}

// AWSFromEnv reads the region and the execution role's credentials that Lambda sets: what any
// of Pulse's SDK clients is built from.
func AWSFromEnv(getenv func(string) string) (string, aws.CredentialsProvider, error) {
	region := cmp.Or(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		return "", nil, fmt.Errorf("config: AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return "", nil, fmt.Errorf("config: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
	}
	return region, aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))), nil
}

// ClientOptions sets how the DynamoDB client retries (Retryer).
func ClientOptions(o *dynamodb.Options) { o.Retryer = Retryer() }

// Retryer is how Pulse's SDK clients retry: 3 attempts with jittered backoff capped at 1 second
// (the SDK's default cap is 20 seconds, longer than a function's whole timeout), so that a
// throttled or unreachable service becomes a quick 503 with Retry-After (or a reported batch
// failure), and a passing hiccup is absorbed.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 3
		so.MaxBackoff = time.Second
	})
}
