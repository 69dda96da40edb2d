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

// Breaking the template on purpose is caught, with a message that names the problem: the rules
// of template.Check (the others are pulse.guard's, broken in TestCfnGuard).
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
		{"route served twice", "Path: /api/users/{user_id}/tokens/{token_id}", "Path: /api/users/{user_id}/sessions/{session_id}", "is served by both"},
		{"queue unwatched", "          Value: !GetAtt PublishEventsDeadLetters.QueueName", "          Value: events-dead-letters", "PublishEventsDeadLetters: no alarm watches the queue"},
		{"function unwatched", "Dimensions: [{ Name: FunctionName, Value: !Ref GetUserFunction }]", "Dimensions: [{ Name: FunctionName, Value: get-user }]", "GetUserFunction: no alarm watches its Errors"},
		{"topic not an output", "    Value: !Ref AlarmTopic", "    Value: alarms", "no SNS topic for the alarms is an output"},
		{"default outside its pattern", "    Default: 30m\n", "    Default: 30s\n", "parameter SessionIdleTimeout: Default \"30s\" does not match"},
		{"any schedule", "    AllowedPattern: \"^rate", "    Pattern: \"^rate", "parameter CleanupSchedule"},
		{"filter not JSON", `- Pattern: '{"dynamodb":{"NewImage":{"type":{"S":["session"]},"status":{"S":["active"]}}`, `- Pattern: '{dynamodb:{"NewImage":{"type":{"S":["session"]},"status":{"S":["active"]}}`, "is not JSON"},
		{"failures dropped", "          Destination: !GetAtt PublishEventsDeadLetters.Arn", "          Destination: !GetAtt PublishEventsFunctionLogs.Arn", "want !GetAtt of an SQS queue"},
		{"unknown condition", "    Type: AWS::Events::Connection\n    Condition: HasWebhook\n", "    Type: AWS::Events::Connection\n    Condition: HasHook\n", "Condition HasHook is not in Conditions"},
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
