package iamcheck_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

const policyTemplate = `
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Bus:
    Type: AWS::Events::EventBus
  ReadFunction:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action:
                - dynamodb:GetItem
                - dynamodb:Query
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: dynamodb:Query
              Resource:
                - !Sub "${Table.Arn}/index/Live"
                - !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/pulse/index/By*" # the list's sort by key
  PublishFunction:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action:
                - events:PutEvents
              Resource: !GetAtt Bus.Arn
  PageFunction:
    Type: AWS::Serverless::Function
`

// A policy grants exactly its statements' actions on their resources, with !GetAtt, !Sub and
// IAM's wildcards resolved; a function without Policies is granted nothing.
func TestAllows(t *testing.T) {
	p, err := iamcheck.Parse([]byte(policyTemplate), map[string]string{"Table": "pulse", "Bus": "events"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fn, action, resource string
		want                 bool
	}{
		{"ReadFunction", "dynamodb:GetItem", iamcheck.TableARN("pulse"), true},
		{"ReadFunction", "DynamoDB:getitem", iamcheck.TableARN("pulse"), true}, // actions compare case-insensitively
		{"ReadFunction", "dynamodb:PutItem", iamcheck.TableARN("pulse"), false},
		{"ReadFunction", "dynamodb:GetItem", iamcheck.IndexARN("pulse", "Live"), false}, // statement 1 names the table only
		{"ReadFunction", "dynamodb:Query", iamcheck.IndexARN("pulse", "Live"), true},
		{"ReadFunction", "dynamodb:Query", iamcheck.IndexARN("pulse", "ByStart"), true},
		{"ReadFunction", "dynamodb:Query", iamcheck.IndexARN("pulse", "Ended"), false},
		{"ReadFunction", "dynamodb:Query", iamcheck.TableARN("other"), false},
		{"PublishFunction", "events:PutEvents", iamcheck.BusARN("events"), true},
		{"PublishFunction", "events:PutEvents", iamcheck.BusARN("default"), false},
		{"PageFunction", "dynamodb:GetItem", iamcheck.TableARN("pulse"), false},
		{"NoSuchFunction", "dynamodb:GetItem", iamcheck.TableARN("pulse"), false},
	} {
		if got := p.Allows(tc.fn, tc.action, tc.resource); got != tc.want {
			t.Errorf("%s %s on %s: allowed %v, want %v", tc.fn, tc.action, tc.resource, got, tc.want)
		}
	}
}

// The report fails on a call no policy grants and on a grant nothing used unless a comment
// beside it names the path that needs it.
func TestReport(t *testing.T) {
	p, err := iamcheck.Parse([]byte(policyTemplate), map[string]string{"Table": "pulse", "Bus": "events"})
	if err != nil {
		t.Fatal(err)
	}
	all := []iamcheck.Call{
		{Function: "ReadFunction", Action: "dynamodb:GetItem", Resource: iamcheck.TableARN("pulse")},
		{Function: "ReadFunction", Action: "dynamodb:Query", Resource: iamcheck.TableARN("pulse")},
		{Function: "ReadFunction", Action: "dynamodb:Query", Resource: iamcheck.IndexARN("pulse", "Live")},
		{Function: "PublishFunction", Action: "events:PutEvents", Resource: iamcheck.BusARN("events")},
	}
	var out bytes.Buffer
	if err := iamcheck.Report(&out, p, all); err != nil {
		t.Errorf("every grant used or explained: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "kept: ReadFunction: dynamodb:Query on table/pulse/index/By* (the list's sort by key)") {
		t.Errorf("the commented grant is not listed with its comment:\n%s", out.String())
	}
	out.Reset()
	if err := iamcheck.Report(&out, p, all[1:]); err == nil || !strings.Contains(out.String(), "unused, no comment: ReadFunction: dynamodb:GetItem on table/pulse") {
		t.Errorf("an unused grant without a comment: %v\n%s", err, out.String())
	}
	out.Reset()
	denied := append(all, iamcheck.Call{Function: "PageFunction", Action: "dynamodb:GetItem", Resource: iamcheck.TableARN("pulse")})
	if err := iamcheck.Report(&out, p, denied); err == nil || !strings.Contains(out.String(), "NOT GRANTED: PageFunction: dynamodb:GetItem on table/pulse") {
		t.Errorf("a call no policy grants: %v\n%s", err, out.String())
	}
}

// A transaction is authorized item by item, a batch per table, a query on its index.
func TestRequestsBecomeAuthorizations(t *testing.T) {
	p, err := iamcheck.Parse([]byte(policyTemplate), map[string]string{"Table": "pulse"})
	if err != nil {
		t.Fatal(err)
	}
	rec := iamcheck.New(p)
	db, _ := ddbtest.New(t)
	client := dynamodb.New(db.Options(), rec.DynamoDB)
	ctx := iamcheck.WithFunction(context.Background(), "ReadFunction")
	k := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberS{Value: "b"}}
	_, err = client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("pulse"), Key: k, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Update: &types.Update{TableName: aws.String("pulse"), Key: k, UpdateExpression: aws.String("SET x = :x"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":x": &types.AttributeValueMemberN{Value: "1"}}}},
	}})
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("a transaction the policy does not grant: %v, want AccessDeniedException", err)
	}
	if _, err := client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("pulse"), IndexName: aws.String("Live"),
		KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "a"}}}); err != nil && strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("a query on a granted index was refused: %v", err)
	}
	var got []string
	for _, c := range rec.Calls() {
		got = append(got, c.String())
	}
	want := "ReadFunction: dynamodb:ConditionCheckItem on table/pulse; ReadFunction: dynamodb:Query on table/pulse/index/Live"
	if strings.Join(got, "; ") != want {
		t.Errorf("recorded %q, want %q (a refused transaction stops at its first refused item)", strings.Join(got, "; "), want)
	}
	if d := rec.Denied(); len(d) != 1 || d[0].Action != "dynamodb:ConditionCheckItem" {
		t.Errorf("denied %v, want the transaction's ConditionCheckItem", d)
	}
	// The same request made by a test's own setup (no function) is not checked.
	if _, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("pulse"), Key: k}); err != nil && strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("an unattributed call was refused: %v", err)
	}
}

// The evidence works end to end: with dynamodb:UpdateItem taken from DeleteUserFunction's
// policy, as it was before this check existed, erasing a user fails as it would on AWS (a 5xx,
// not the 204 DynamoDB Local alone would give), and the check names function, action and
// resource.
func TestRemovedActionFailsTheErasure(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(raw), "  DeleteUserFunction:\n")
	grant := strings.Index(string(raw)[start:], "                - dynamodb:UpdateItem\n")
	if start < 0 || grant < 0 {
		t.Fatal("template.yaml's DeleteUserFunction grants no dynamodb:UpdateItem: update this test")
	}
	broken := string(raw)[:start+grant] + string(raw)[start+grant+len("                - dynamodb:UpdateItem\n"):]
	p, err := apptest.PoliciesOf([]byte(broken))
	if err != nil {
		t.Fatal(err)
	}
	rec := iamcheck.New(p)
	e := apptest.NewWith(t, apptest.Options{IAM: rec})
	key := apptest.Key(e.Key)
	if r := e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web"}`, key...); r.Status != 201 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	r := e.Do("DELETE", "/api/users/alice", "", key...)
	if r.Status < 500 {
		t.Errorf("DELETE without dynamodb:UpdateItem: %d %s, want a 5xx as on AWS", r.Status, r.Body)
	}
	want := iamcheck.Call{Function: "DeleteUserFunction", Action: "dynamodb:UpdateItem", Resource: iamcheck.TableARN(ddbtest.Table)}
	if d := rec.Denied(); len(d) == 0 || d[0] != want {
		t.Errorf("denied %v, want %v", d, want)
	}
	// With template.yaml's own policy the same erasure passes (apptest fails any denial).
	ok := apptest.New(t)
	ok.Do("POST", "/api/users/alice/sessions", `{"client_id":"web"}`, apptest.Key(ok.Key)...)
	if r := ok.Do("DELETE", "/api/users/alice", "", apptest.Key(ok.Key)...); r.Status != 204 {
		t.Errorf("DELETE with template.yaml's policy: %d %s", r.Status, r.Body)
	}
}
