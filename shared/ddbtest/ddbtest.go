// Package ddbtest gives tests a real DynamoDB: DynamoDB Local, with a fresh database per test.
// It uses the emulator at PULSE_DDB_ENDPOINT when set (make test starts one for all packages),
// else starts its own for the test binary. Each test gets its own access key, and DynamoDB
// Local (without -sharedDb) keeps one database per access key: tests cannot see each other.
package ddbtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/shared/ddblocal"
	"github.com/pulse-sessions/pulse/shared/template"
)

// Table is the logical ID of the table in template.yaml, and the name tests give it.
const Table = "PulseTable"

var endpoint string

// Main runs m with DynamoDB Local available; call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	endpoint = os.Getenv("PULSE_DDB_ENDPOINT")
	if endpoint == "" || !ddblocal.Ready(ctx, endpoint) {
		root, err := ddblocal.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dir, err := ddblocal.Ensure(ctx, filepath.Join(root, ".cache"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		p, err := ddblocal.Start(ctx, ddblocal.Options{JarDir: dir})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer p.Stop()
		endpoint = p.Endpoint
	}
	return m.Run()
}

// Endpoint returns the emulator's URL.
func Endpoint() string { return endpoint }

var seq atomic.Int64

// Client returns a client whose access key names a database of its own: letters and digits
// only, as DynamoDB Local requires.
func Client(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	if endpoint == "" {
		t.Fatal("ddbtest: no DynamoDB Local; call ddbtest.Main from TestMain")
	}
	key := fmt.Sprintf("T%dx%d", seq.Add(1), rand.Int64())
	return NewClient(endpoint, key), key
}

// NewClient returns a client of the emulator at endpoint for access key key.
func NewClient(endpoint, key string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, "local", ""),
	})
}

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
	root, err := ddblocal.RepoRoot()
	if err != nil {
		return err
	}
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
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
