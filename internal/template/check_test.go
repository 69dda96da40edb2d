package template

import (
	"os"
	"strings"
	"testing"
)

func TestTemplatePasses(t *testing.T) {
	tpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tpl.Check() {
		t.Error(p)
	}
	if len(tpl.Functions()) == 0 || len(tpl.Routes()) == 0 {
		t.Fatal("the template has no functions or routes: the checks checked nothing")
	}
}

// Breaking the template on purpose is caught, with a message that names the problem.
func TestBrokenTemplates(t *testing.T) {
	src, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"dangling Ref", "ApiId: !Ref PulseApi", "ApiId: !Ref PulsApi", "refers to PulsApi"},
		{"dangling GetAtt", "Resource: !GetAtt PulseTable.Arn", "Resource: !GetAtt PulseTabel.Arn", "refers to PulseTabel"},
		{"dangling Sub", `!Sub "${PulseTable.Arn}/index/Active"`, `!Sub "${Table.Arn}/index/Active"`, "refers to Table"},
		{"write on a read function", "Description: \"Returns a user: 200, or 404.\"\n      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem",
			"Description: \"Returns a user: 200, or 404.\"\n      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action:\n                - dynamodb:GetItem\n                - dynamodb:DeleteItem",
			"GetUserFunction: serves only GET routes but is allowed dynamodb:DeleteItem"},
		{"wildcard action", "                - dynamodb:BatchWriteItem", "                - dynamodb:*", `IAM action "dynamodb:*" has a wildcard`},
		{"route served twice", "Path: /api/users/{user_id}/tokens/{token_id}", "Path: /api/users/{user_id}/sessions/{session_id}", "is served by both"},
		{"x86", "Architectures: [arm64]", "Architectures: [x86_64]", "Architectures is [x86_64], want [arm64]"},
		{"old runtime", "Runtime: provided.al2023", "Runtime: go1.x", "Runtime is go1.x"},
		{"text logs", "LogFormat: JSON", "LogFormat: Text", "LogFormat is Text"},
		{"no TTL", "        AttributeName: ttl\n        Enabled: true", "        AttributeName: ttl\n        Enabled: false", "TimeToLiveSpecification is not enabled"},
		{"no PITR", "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", "point-in-time recovery is not enabled"},
		{"not retained", "    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain", "    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Delete", "want Retain"},
		{"table deletable", "      DeletionProtectionEnabled: !If [ProtectTable, true, false]\n", "", "DeletionProtectionEnabled is not set"},
		{"queue kept 4 days", "  CleanupScheduleDeadLetters:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      MessageRetentionPeriod: 1209600\n", "  CleanupScheduleDeadLetters:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n", "CleanupScheduleDeadLetters: no MessageRetentionPeriod"},
		{"queue without deletion policy", "    Type: AWS::SQS::Queue\n    # What a dead-letter queue holds is what failed: kept when the stack goes (I3011).\n    DeletionPolicy: Retain\n", "    Type: AWS::SQS::Queue\n", "PublishEventsDeadLetters: DeletionPolicy and UpdateReplacePolicy"},
		{"queue unwatched", "          Value: !GetAtt PublishEventsDeadLetters.QueueName", "          Value: events-dead-letters", "PublishEventsDeadLetters: no alarm watches the queue"},
		{"function unwatched", "Dimensions: [{ Name: FunctionName, Value: !Ref GetUserFunction }]", "Dimensions: [{ Name: FunctionName, Value: get-user }]", "GetUserFunction: no alarm watches its Errors"},
		{"alarm heard by nobody", "      TreatMissingData: notBreaching\n      AlarmActions: [!Ref AlarmTopic]\n\n  # No invocation of the cleanup", "      TreatMissingData: notBreaching\n\n  # No invocation of the cleanup", "ApiServerErrorsAlarm: no AlarmActions"},
		{"schedule without retries", "            RetryPolicy:\n", "            NoRetryPolicy:\n", "schedule Schedule has no RetryPolicy"},
		{"topic not an output", "    Value: !Ref AlarmTopic", "    Value: alarms", "no SNS topic for the alarms is an output"},
		{"unbounded number", "    MaxValue: 10000 # an HTTP API's account-level quota per Region\n", "", "parameter ThrottlingRateLimit: a Number without MinValue and MaxValue"},
		{"default outside its pattern", "    Default: 30m\n", "    Default: 30s\n", "parameter SessionIdleTimeout: Default \"30s\" does not match"},
		{"undescribed parameter", "    Description: The least severe application log entry the functions write (Lambda's ApplicationLogLevel).\n", "", "parameter LogLevel: no Description"},
		{"logs kept forever", "        LogGroup: !Ref GetUserFunctionLogs", "        LogGroup: GetUserLogs", "GetUserFunction: LoggingConfig.LogGroup"},
		{"no throttling", "        ThrottlingRateLimit: !Ref ThrottlingRateLimit", "        Unthrottled: true", "no ThrottlingRateLimit"},
		{"no access log", `"requestId":"$context.requestId",`, "", "AccessLogSettings want"},
		{"any schedule", "    AllowedPattern: \"^rate", "    Pattern: \"^rate", "parameter CleanupSchedule"},
		{"endpoint undeclared", `        AWS_ENDPOINT_URL_DYNAMODB: ""`, "", "AWS_ENDPOINT_URL_DYNAMODB"},
		{"stream without old images", "StreamViewType: NEW_AND_OLD_IMAGES", "StreamViewType: NEW_IMAGE", "want NEW_AND_OLD_IMAGES"},
		{"unfiltered mapping", "      FilterCriteria:\n        Filters:\n", "      Unfiltered:\n        Filters:\n", "FilterCriteria has no Filters"},
		{"filter not JSON", `- Pattern: '{"dynamodb":{"NewImage":{"type":{"S":["session"]},"status":{"S":["active"]}}`, `- Pattern: '{dynamodb:{"NewImage":{"type":{"S":["session"]},"status":{"S":["active"]}}`, "is not JSON"},
		{"whole batch retried", "FunctionResponseTypes: [ReportBatchItemFailures]", "FunctionResponseTypes: []", "lacks ReportBatchItemFailures"},
		{"no bisection", "BisectBatchOnFunctionError: true", "BisectBatchOnFunctionError: false", "BisectBatchOnFunctionError is not true"},
		{"retries forever", "MaximumRetryAttempts: 5", "MaximumRetryAttempts: -1", "MaximumRetryAttempts is -1"},
		{"failures dropped", "          Destination: !GetAtt PublishEventsDeadLetters.Arn", "          Destination: !GetAtt PublishEventsFunctionLogs.Arn", "want !GetAtt of an SQS queue"},
		{"webhook always created", "    Type: AWS::Events::ApiDestination\n    Condition: HasWebhook\n", "    Type: AWS::Events::ApiDestination\n", "WebhookDestination: the webhook is optional"},
		{"unknown condition", "    Type: AWS::Events::Connection\n    Condition: HasWebhook\n", "    Type: AWS::Events::Connection\n    Condition: HasHook\n", "Condition HasHook is not in Conditions"},
		{"role with a wildcard", "                Action: events:InvokeApiDestination", "                Action: events:*", `WebhookRole: IAM action "events:*"`},
		{"bus not an output", "    Value: !Ref PulseEventBus", "    Value: events", "the event bus's name is not an output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(src), tc.old) {
				t.Fatalf("the template no longer contains %q: update this test", tc.old)
			}
			tpl, err := Parse([]byte(strings.Replace(string(src), tc.old, tc.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			problems := strings.Join(tpl.Check(), "\n")
			if !strings.Contains(problems, tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", problems, tc.want)
			}
		})
	}
}
