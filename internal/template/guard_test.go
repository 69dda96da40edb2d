package template

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/npmtools"
)

// cfnGuard is AWS's policy-as-code tool, as the npm package @cdklabs/cdk-validator-cfnguard
// ships it (a static binary per platform), pinned with its integrity hash in package-lock.json.
func cfnGuard(t *testing.T) string {
	t.Helper()
	bin, ok, err := npmtools.CfnGuard(context.Background(), "../..")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skipf("no cfn-guard binary for %s/%s in the package", runtime.GOOS, runtime.GOARCH)
	}
	return bin
}

func guard(t *testing.T, bin, template string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, "validate", "-d", template, "-r", "pulse.guard", "--show-summary", "fail").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// The project's rules (pulse.guard) hold for template.yaml under cfn-guard, and fail, naming
// the rule, for templates broken on purpose.
func TestCfnGuard(t *testing.T) {
	bin := cfnGuard(t)
	if out, code := guard(t, bin, "../../template.yaml"); code != 0 {
		t.Fatalf("cfn-guard: exit %d\n%s", code, out)
	}
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new, rule string }{
		{"write on a read function", "Description: \"Returns a user: 200, or 404.\"\n      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem",
			"Description: \"Returns a user: 200, or 404.\"\n      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem\n                - dynamodb:DeleteItem", "readers_cannot_write"},
		{"wildcard action", "                - dynamodb:BatchWriteItem", "                - dynamodb:*", "least_privilege"},
		{"wildcard resource", "Resource: !GetAtt PulseTable.Arn", `Resource: "*"`, "least_privilege"},
		{"x86", "Architectures: [arm64]", "Architectures: [x86_64]", "lambda_platform"},
		{"no PITR", "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", "table_durable"},
		{"log group without retention", "    Properties:\n      RetentionInDays: !Ref LogRetentionDays\n\n  GetUserFunction:", "    Properties:\n      LogGroupClass: STANDARD\n\n  GetUserFunction:", "logs_expire"},
		{"no throttling", "        ThrottlingBurstLimit: !Ref ThrottlingBurstLimit", "", "api_throttled_and_logged"},
		{"queue kept 4 days", "  CleanupScheduleDeadLetters:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      MessageRetentionPeriod: 1209600\n", "  CleanupScheduleDeadLetters:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n", "queues_kept"},
		{"queue without deletion policy", "    Type: AWS::SQS::Queue\n    # What a dead-letter queue holds is what failed: kept when the stack goes (I3011).\n    DeletionPolicy: Retain\n", "    Type: AWS::SQS::Queue\n", "queues_kept"},
		{"schedule without retries", "            RetryPolicy:\n", "            NoRetryPolicy:\n", "schedules_retried"},
		{"alarm heard by nobody", "      AlarmActions: [!Ref AlarmTopic]\n", "", "alarms_heard"},
		{"unbounded number", "    MaxValue: 10000 # an HTTP API's account-level quota per Region\n", "", "parameters_bounded"},
		{"table deletable", "      DeletionProtectionEnabled: !If [ProtectTable, true, false]\n", "", "table_durable"},
		{"endpoint undeclared", `        AWS_ENDPOINT_URL_DYNAMODB: ""`, `        AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:8000"`, "local_endpoint_declared"},
		{"stream without old images", "StreamViewType: NEW_AND_OLD_IMAGES", "StreamViewType: NEW_IMAGE", "stream_events"},
		{"unfiltered mapping", "      FilterCriteria:\n        Filters:\n", "      Unfiltered:\n        Filters:\n", "mappings_bounded"},
		{"retries forever", "MaximumRetryAttempts: 5", "MaximumRetryAttempts: -1", "mappings_bounded"},
		{"no bisection", "BisectBatchOnFunctionError: true", "BisectBatchOnFunctionError: false", "mappings_bounded"},
		{"webhook always created", "    Type: AWS::Events::ApiDestination\n    Condition: HasWebhook\n", "    Type: AWS::Events::ApiDestination\n", "webhook_optional"},
		{"role with a wildcard", "                Action: events:InvokeApiDestination", "                Action: events:*", "roles_least_privilege"},
		{"old runtime", "Runtime: provided.al2023", "Runtime: go1.x", "lambda_platform"},
		{"text logs", "LogFormat: JSON", "LogFormat: Text", "lambda_platform"},
		{"no TTL", "        AttributeName: ttl\n        Enabled: true", "        AttributeName: ttl\n        Enabled: false", "table_durable"},
		{"not retained", "    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain", "    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Delete", "table_durable"},
		{"undescribed parameter", "    Description: The least severe application log entry the functions write (Lambda's ApplicationLogLevel).\n", "", "parameters_bounded"},
		{"logs kept forever", "        LogGroup: !Ref GetUserFunctionLogs", "        LogGroup: GetUserLogs", "logs_expire"},
		{"no access log", `"requestId":"$context.requestId",`, `"request":"$context.path",`, "api_throttled_and_logged"},
		{"whole batch retried", "FunctionResponseTypes: [ReportBatchItemFailures]", "FunctionResponseTypes: [Other]", "mappings_bounded"},
		{"a managed policy", "      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem\n", "      Policies:\n        - AmazonDynamoDBFullAccess\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem\n", "least_privilege"},
		{"a table-deleting reader", "Description: \"Returns a user: 200, or 404.\"\n      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem",
			"Description: \"Returns a user: 200, or 404.\"\n      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem\n                - dynamodb:DeleteTable", "readers_cannot_write"},
		{"a function's own handler", "      Description: \"Returns a user: 200, or 404.\"\n", "      Description: \"Returns a user: 200, or 404.\"\n      Handler: main\n", "functions_keep_platform"},
		{"publisher with a wildcard resource", "              Resource: !GetAtt PulseEventBus.Arn", `              Resource: "*"`, "least_privilege"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(src), tc.old) {
				t.Fatalf("the template no longer contains %q: update this test", tc.old)
			}
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, []byte(strings.Replace(string(src), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := guard(t, bin, path)
			if code == 0 || !strings.Contains(out, "pulse.guard/"+tc.rule) {
				t.Errorf("exit %d, want a failure of %s:\n%.600s", code, tc.rule, out)
			}
		})
	}
}
