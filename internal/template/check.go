package template

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Check returns every problem it finds in the template, each naming what is wrong and where:
// references to nothing, functions not set up as Pulse's must be (arm64, provided.al2023,
// bootstrap, JSON logs, built by the Makefile), a table without TTL, point-in-time recovery or
// retention, IAM statements with wildcards, functions that only read holding write
// permissions, and routes served twice; a stream without old and new images, an event source
// mapping that is unfiltered, retries forever or drops what fails, webhook resources created
// unconditionally, and an event bus that is not an output. An empty answer means the template
// passes.
func (t *Template) Check() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	known := map[string]bool{}
	for name := range t.Parameters {
		known[name] = true
	}
	for id := range t.Resources {
		known[id] = true
	}
	for _, p := range []string{"AWS::AccountId", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"} {
		known[p] = true
	}
	walk := func(where string, v any) {
		for _, ref := range references(v) {
			if !known[ref] {
				add("%s: refers to %s, which is neither a parameter nor a resource", where, ref)
			}
		}
	}
	walk("Globals", t.Globals)
	walk("Outputs", t.Outputs)
	for id, r := range t.Resources {
		walk(id, r.Properties)
	}

	routes := map[string]string{}
	for _, id := range t.Functions() {
		fn := t.Resources[id]
		want := map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap", "CodeUri": "."}
		for prop, value := range want {
			if got := t.Setting(id, prop); got != value {
				add("%s: %s is %v, want %s", id, prop, got, value)
			}
		}
		if arch, _ := t.Setting(id, "Architectures").([]any); len(arch) != 1 || arch[0] != "arm64" {
			add("%s: Architectures is %v, want [arm64]", id, arch)
		}
		if lc, _ := t.Setting(id, "LoggingConfig").(map[string]any); lc["LogFormat"] != "JSON" {
			add("%s: LoggingConfig.LogFormat is %v, want JSON", id, lc["LogFormat"])
		}
		if lc, _ := t.Setting(id, "LoggingConfig").(map[string]any); !t.isLogGroupWithRetention(lc["LogGroup"]) {
			add("%s: LoggingConfig.LogGroup is %v, want a Ref to an AWS::Logs::LogGroup with RetentionInDays (logs would be kept forever)", id, lc["LogGroup"])
		}
		if fn.Metadata["BuildMethod"] != "makefile" {
			add("%s: Metadata.BuildMethod is %v, want makefile", id, fn.Metadata["BuildMethod"])
		}
		readOnly, hasRoute := true, false
		events, _ := fn.Properties["Events"].(map[string]any)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "HttpApi" {
				readOnly = false
				continue
			}
			hasRoute = true
			p, _ := ev["Properties"].(map[string]any)
			key := fmt.Sprintf("%v %v", p["Method"], p["Path"])
			if p["Method"] != "GET" {
				readOnly = false
			}
			if other, dup := routes[key]; dup {
				add("route %s is served by both %s and %s", key, other, id)
			}
			routes[key] = id
		}
		for _, st := range statements(fn.Properties["Policies"]) {
			actions := strings_(st["Action"])
			for _, a := range actions {
				if strings.Contains(a, "*") {
					add("%s: IAM action %q has a wildcard; grant the actions the function calls", id, a)
				}
				if readOnly && hasRoute && writes[a] {
					add("%s: serves only GET routes but is allowed %s", id, a)
				}
			}
			for _, r := range strings_(st["Resource"]) {
				if r == "*" {
					add("%s: IAM resource \"*\"; name the table and its indexes", id)
				}
			}
		}
		if p, ok := fn.Properties["Policies"]; ok && len(statements(p)) == 0 {
			add("%s: Policies has no inline statements (managed policies and policy templates grant more than it needs)", id)
		}
	}

	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::HttpApi" {
			continue
		}
		rs, _ := r.Properties["DefaultRouteSettings"].(map[string]any)
		if rs["ThrottlingRateLimit"] == nil || rs["ThrottlingBurstLimit"] == nil {
			add("%s: DefaultRouteSettings has no ThrottlingRateLimit and ThrottlingBurstLimit", id)
		}
		al, _ := r.Properties["AccessLogSettings"].(map[string]any)
		format, _ := al["Format"].(string)
		dest, _ := al["DestinationArn"].(map[string]any)
		group, _ := dest["Fn::GetAtt"].([]any)
		if !strings.Contains(format, "$context.requestId") || len(group) == 0 || !t.isLogGroupWithRetention(map[string]any{"Ref": group[0]}) {
			add("%s: AccessLogSettings want a JSON format with $context.requestId into a log group with a retention", id)
		}
	}
	for name, v := range t.Parameters {
		p, _ := v.(map[string]any)
		if p["Type"] == "String" && p["AllowedPattern"] == nil && p["AllowedValues"] == nil && name != "GeoIPDatabase" {
			add("parameter %s: a String without AllowedPattern or AllowedValues takes anything", name)
		}
		if p["Type"] == "Number" && p["AllowedValues"] == nil && (p["MinValue"] == nil || p["MaxValue"] == nil) {
			add("parameter %s: a Number without MinValue and MaxValue", name)
		}
		if p["Description"] == nil {
			add("parameter %s: no Description", name)
		}
		// cfn-lint (W2031) and CloudFormation refuse a default its own pattern does not allow.
		if pattern, ok := p["AllowedPattern"].(string); ok {
			re, err := regexp.Compile(pattern)
			if err != nil {
				add("parameter %s: AllowedPattern does not compile: %v", name, err)
			} else if d, ok := p["Default"]; ok && !re.MatchString(fmt.Sprint(d)) {
				add("parameter %s: Default %q does not match its AllowedPattern", name, d)
			}
		}
	}
	if env, _ := t.Globals["Function"].(map[string]any)["Environment"].(map[string]any); env != nil {
		if vars, _ := env["Variables"].(map[string]any); vars["AWS_ENDPOINT_URL_DYNAMODB"] != "" {
			add("Globals: Environment.Variables.AWS_ENDPOINT_URL_DYNAMODB is %v, want declared and empty (sam local --env-vars only overrides declared variables)", vars["AWS_ENDPOINT_URL_DYNAMODB"])
		}
	}

	for id, r := range t.Resources {
		if r.Condition != "" && t.Conditions[r.Condition] == nil {
			add("%s: Condition %s is not in Conditions", id, r.Condition)
		}
		switch r.Type {
		case "AWS::Lambda::EventSourceMapping":
			problems = append(problems, t.checkMapping(id, r)...)
		case "AWS::Events::Connection", "AWS::Events::ApiDestination":
			if r.Condition == "" {
				add("%s: the webhook is optional: want a Condition (created only when WebhookUrl is set)", id)
			}
		case "AWS::IAM::Role":
			for _, pol := range list(r.Properties["Policies"]) {
				doc, _ := pol["PolicyDocument"].(map[string]any)
				for _, st := range statements([]any{doc}) {
					for _, a := range strings_(st["Action"]) {
						if strings.Contains(a, "*") {
							add("%s: IAM action %q has a wildcard", id, a)
						}
					}
					if slices.Contains(strings_(st["Resource"]), "*") {
						add("%s: IAM resource \"*\"", id)
					}
				}
			}
		case "AWS::Events::EventBus":
			output := false
			for _, o := range t.Outputs {
				m, _ := o.(map[string]any)
				output = output || slices.Contains(references(m["Value"]), id)
			}
			if !output {
				add("%s: the event bus's name is not an output", id)
			}
		}
	}

	problems = append(problems, t.checkOperations()...)

	for id, r := range t.Resources {
		if r.Type != "AWS::DynamoDB::Table" {
			continue
		}
		if r.Properties["DeletionProtectionEnabled"] == nil {
			add("%s: DeletionProtectionEnabled is not set", id)
		}
		if spec, _ := r.Properties["StreamSpecification"].(map[string]any); spec["StreamViewType"] != "NEW_AND_OLD_IMAGES" {
			add("%s: StreamSpecification.StreamViewType is %v, want NEW_AND_OLD_IMAGES (the publisher tells a start, an end and an erasure by both images)", id, spec["StreamViewType"])
		}
		if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
			add("%s: DeletionPolicy %q and UpdateReplacePolicy %q, want Retain for both", id, r.DeletionPolicy, r.UpdateReplacePolicy)
		}
		if t.TTLAttribute(id) == "" {
			add("%s: TimeToLiveSpecification is not enabled", id)
		}
		pitr, _ := r.Properties["PointInTimeRecoverySpecification"].(map[string]any)
		if pitr["PointInTimeRecoveryEnabled"] != true {
			add("%s: point-in-time recovery is not enabled", id)
		}
		if r.Properties["BillingMode"] != "PAY_PER_REQUEST" {
			add("%s: BillingMode is %v, want PAY_PER_REQUEST", id, r.Properties["BillingMode"])
		}
	}
	sort.Strings(problems)
	return problems
}

// checkOperations checks what tells an operator that something failed: every SQS queue keeps
// its messages (a retention, a DeletionPolicy) and has an alarm on the messages it holds; every
// schedule retries and keeps what it could not deliver; every function's errors and throttles
// are watched by an alarm; every alarm notifies someone; the alarm topic is an output.
func (t *Template) checkOperations() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	watched := map[string]bool{} // "<logical ID>/<metric>" of every alarm's metrics
	topics := map[string]bool{}
	for id, r := range t.Resources {
		switch r.Type {
		case "AWS::CloudWatch::Alarm":
			if len(list(r.Properties["AlarmActions"])) == 0 && len(strings_(r.Properties["AlarmActions"])) == 0 {
				add("%s: no AlarmActions: nobody hears it", id)
			}
			watch := func(metric map[string]any) {
				for _, ref := range references(metric["Dimensions"]) {
					watched[ref+"/"+fmt.Sprint(metric["MetricName"])] = true
				}
			}
			watch(r.Properties)
			for _, m := range list(r.Properties["Metrics"]) {
				stat, _ := m["MetricStat"].(map[string]any)
				metric, _ := stat["Metric"].(map[string]any)
				watch(metric)
			}
		case "AWS::SNS::Topic":
			topics[id] = true
		}
	}
	for id, r := range t.Resources {
		if r.Type != "AWS::SQS::Queue" {
			continue
		}
		if r.Properties["MessageRetentionPeriod"] == nil {
			add("%s: no MessageRetentionPeriod (SQS keeps messages 4 days by default)", id)
		}
		if r.DeletionPolicy == "" || r.UpdateReplacePolicy == "" {
			add("%s: DeletionPolicy and UpdateReplacePolicy are not both set (what a queue holds goes with it; cfn-lint I3011)", id)
		}
		if !watched[id+"/ApproximateNumberOfMessagesVisible"] {
			add("%s: no alarm watches the queue's ApproximateNumberOfMessagesVisible: what lands in it would go unnoticed", id)
		}
	}
	for _, id := range t.Functions() {
		for _, m := range []string{"Errors", "Throttles"} {
			if !watched[id+"/"+m] {
				add("%s: no alarm watches its %s", id, m)
			}
		}
		events, _ := t.Resources[id].Properties["Events"].(map[string]any)
		for name, e := range events {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "Schedule" {
				continue
			}
			p, _ := ev["Properties"].(map[string]any)
			if p["RetryPolicy"] == nil || p["DeadLetterConfig"] == nil {
				add("%s: schedule %s has no RetryPolicy and DeadLetterConfig: a run EventBridge could not deliver would vanish", id, name)
			}
		}
	}
	output := false
	for _, o := range t.Outputs {
		m, _ := o.(map[string]any)
		for _, ref := range references(m["Value"]) {
			output = output || topics[ref]
		}
	}
	if len(topics) == 0 || !output {
		add("no SNS topic for the alarms is an output (AlarmTopicArn)")
	}
	return problems
}

// checkMapping checks an event source mapping: filtered (each pattern JSON), partial batch
// failures reported, bisection on error, a bounded number of retries, and what still fails sent
// to an SQS queue of the template.
func (t *Template) checkMapping(id string, r Resource) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(id+": "+format, args...)) }
	fc, _ := r.Properties["FilterCriteria"].(map[string]any)
	filters := list(fc["Filters"])
	if len(filters) == 0 {
		add("FilterCriteria has no Filters: every write to the table would invoke the function")
	}
	for _, f := range filters {
		var pattern map[string]any
		if err := json.Unmarshal([]byte(str(f, "Pattern")), &pattern); err != nil {
			add("filter pattern %q is not JSON: %v", str(f, "Pattern"), err)
		}
	}
	if !slices.Contains(strings_(r.Properties["FunctionResponseTypes"]), "ReportBatchItemFailures") {
		add("FunctionResponseTypes lacks ReportBatchItemFailures: one failed record would retry the whole batch")
	}
	if r.Properties["BisectBatchOnFunctionError"] != true {
		add("BisectBatchOnFunctionError is not true")
	}
	if n, ok := r.Properties["MaximumRetryAttempts"].(int64); !ok || n < 0 || n > 10 {
		add("MaximumRetryAttempts is %v, want 0 to 10 (unset or -1 retries until the record expires, blocking its shard)", r.Properties["MaximumRetryAttempts"])
	}
	dc, _ := r.Properties["DestinationConfig"].(map[string]any)
	of, _ := dc["OnFailure"].(map[string]any)
	dest, _ := of["Destination"].(map[string]any)
	att, _ := dest["Fn::GetAtt"].([]any)
	if len(att) == 0 || t.Resources[fmt.Sprint(att[0])].Type != "AWS::SQS::Queue" {
		add("DestinationConfig.OnFailure.Destination is %v, want !GetAtt of an SQS queue of the template (records that keep failing would be dropped)", of["Destination"])
	}
	return problems
}

// isLogGroupWithRetention reports whether ref is a Ref to a log group resource with a retention.
func (t *Template) isLogGroupWithRetention(ref any) bool {
	m, _ := ref.(map[string]any)
	name, _ := m["Ref"].(string)
	r, ok := t.Resources[name]
	return ok && r.Type == "AWS::Logs::LogGroup" && r.Properties["RetentionInDays"] != nil
}

// writes are the DynamoDB actions that change data.
var writes = map[string]bool{
	"dynamodb:PutItem": true, "dynamodb:UpdateItem": true, "dynamodb:DeleteItem": true,
	"dynamodb:BatchWriteItem": true, "dynamodb:PartiQLInsert": true, "dynamodb:PartiQLUpdate": true,
	"dynamodb:PartiQLDelete": true, "dynamodb:DeleteTable": true, "dynamodb:UpdateTable": true,
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// references returns the logical names v refers to through Ref, Fn::GetAtt and Fn::Sub.
func references(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch k {
			case "Ref":
				if s, ok := val.(string); ok {
					out = append(out, s)
				}
			case "Fn::GetAtt":
				if l, ok := val.([]any); ok && len(l) > 0 {
					out = append(out, fmt.Sprint(l[0]))
				}
			case "Fn::Sub":
				text, vars := val, map[string]any{}
				if l, ok := val.([]any); ok && len(l) == 2 {
					text = l[0]
					vars, _ = l[1].(map[string]any)
					out = append(out, references(l[1])...)
				}
				if s, ok := text.(string); ok {
					for _, m := range subVar.FindAllStringSubmatch(s, -1) {
						name, _, _ := strings.Cut(m[1], ".")
						if _, local := vars[name]; !local {
							out = append(out, name)
						}
					}
				}
			default:
				out = append(out, references(val)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, references(e)...)
		}
	}
	return out
}

// statements returns the inline IAM statements of a function's Policies.
func statements(policies any) []map[string]any {
	var out []map[string]any
	list, _ := policies.([]any)
	for _, p := range list {
		doc, _ := p.(map[string]any)
		sts, _ := doc["Statement"].([]any)
		for _, s := range sts {
			if m, ok := s.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// strings_ reads an IAM Action or Resource: a string, or a list whose entries may be
// intrinsic functions (shown as their reference, never as "*").
func strings_(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
