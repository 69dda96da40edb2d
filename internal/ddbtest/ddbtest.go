// Package ddbtest gives tests a real DynamoDB: DynamoDB Local, with a fresh database per test.
// It uses the emulator at PULSE_DDB_ENDPOINT when set, else starts its own for the test binary
// when a test first needs it. Each test gets its own access key, and DynamoDB
// Local (without -sharedDb) keeps one database per access key: tests cannot see each other.
package ddbtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/internal/template"
)

// Table is the logical ID of the table in template.yaml, and the name tests give it.
const Table = "PulseTable"

var (
	startOnce sync.Once
	endpoint  string
	startErr  error
	proc      *ddblocal.Process
)

// Main runs m, and stops the DynamoDB Local it started, if any; call it from TestMain. The
// emulator starts only when a test first asks for a database, so that pure tests and fuzzing
// never start a JVM.
func Main(m *testing.M) {
	code := m.Run()
	if proc != nil {
		proc.Stop()
	}
	os.Exit(code)
}

// start finds or starts the emulator, once per test binary.
func start() (string, error) {
	startOnce.Do(func() {
		ctx := context.Background()
		if e := os.Getenv("PULSE_DDB_ENDPOINT"); e != "" && ddblocal.Ready(ctx, e) {
			endpoint = e
			return
		}
		root, err := ddblocal.RepoRoot()
		if err != nil {
			startErr = err
			return
		}
		dir, err := ddblocal.Ensure(ctx, root)
		if err != nil {
			startErr = err
			return
		}
		if proc, startErr = ddblocal.Start(ctx, ddblocal.Options{JarDir: dir}); startErr == nil {
			endpoint = proc.Endpoint
		}
	})
	return endpoint, startErr
}

// Endpoint returns the emulator's URL, starting it if need be.
func Endpoint() string {
	e, _ := start()
	return e
}

var seq atomic.Int64

// Client returns a client whose access key names a database of its own: letters and digits
// only, as DynamoDB Local requires.
func Client(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	endpoint, err := start()
	if err != nil {
		t.Fatalf("ddbtest: DynamoDB Local: %v", err)
	}
	key := NewKey()
	return NewClient(endpoint, key), key
}

// NewClient returns a client of the emulator at endpoint for access key key.
//
// It retries more patiently than the SDK's default (8 attempts, no retry quota): DynamoDB Local
// is one JVM per test binary, and with every package's tests loading it at once it now and then
// drops a connection mid-answer ("use of closed network connection", which the SDK retries); three
// in a row failed a CI run. A test that means to exercise Pulse's own retry policy passes
// boot.ClientOptions in optFns, which replaces this one (apptest does).
func NewClient(endpoint, key string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, "local", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 8
			o.RateLimiter = ratelimit.None
		}),
	}, optFns...)
}

// NewKey returns a fresh access key: a database of its own.
func NewKey() string { return fmt.Sprintf("T%dx%d", seq.Add(1), rand.Int64()) }

// New returns a client on a fresh database holding an empty Pulse table, created from the
// definition in template.yaml, and the table's name.
func New(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	db, table, _ := NewWithKey(t)
	return db, table
}

// NewWithKey is New, and also returns the access key that names the database: another process
// (a built function) reaches the same database with it.
func NewWithKey(t testing.TB) (*dynamodb.Client, string, string) {
	t.Helper()
	db, key := Client(t)
	if err := CreateTable(context.Background(), db, Table); err != nil {
		t.Fatal(err)
	}
	return db, Table, key
}

// CreateTable creates the Pulse table named name from template.yaml's definition.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	tpl, _, err := template.Repo()
	if err != nil {
		return err
	}
	in, err := tpl.CreateTableInput(Table, name)
	if err != nil {
		return err
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("ddbtest: create table: %w", err)
	}
	return nil
}
