package template

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Check returns every problem it finds in the template that pulse.guard cannot express, each
// naming what is wrong and where. Each rule lives once: cfn-guard (pulse.guard, run by
// TestCfnGuard) holds what a rule on the template's own values can say — the platform, IAM
// wildcards, read-only functions that may write, the table's durability, logs, throttling,
// queues, alarms with actions, retried schedules, bounded mappings, the optional webhook — and
// Go holds what needs a join across resources or a computation: references to nothing, routes
// served twice, conditions that are not declared, parameters without a pattern or whose
// default its pattern refuses, mapping filters that are not JSON or failures sent anywhere but
// a queue of the template, queues and functions no alarm watches, and the alarm topic and event
// bus as outputs. An empty answer means the template passes.
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
	for _, rt := range t.Routes() {
		if other, dup := routes[rt.Key()]; dup {
			add("route %s is served by both %s and %s", rt.Key(), other, rt.Function)
		}
		routes[rt.Key()] = rt.Function
	}

	for name, v := range t.Parameters {
		p, _ := v.(map[string]any)
		if p["Type"] == "String" && p["AllowedPattern"] == nil && p["AllowedValues"] == nil && name != "GeoIPDatabase" {
			add("parameter %s: a String without AllowedPattern or AllowedValues takes anything", name)
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

	for id, r := range t.Resources {
		if r.Condition != "" && t.Conditions[r.Condition] == nil {
			add("%s: Condition %s is not in Conditions", id, r.Condition)
		}
		switch r.Type {
		case "AWS::Lambda::EventSourceMapping":
			problems = append(problems, t.checkMapping(id, r)...)
		case "AWS::Events::EventBus":
			if !t.isOutput(func(ref string) bool { return ref == id }) {
				add("%s: the event bus's name is not an output", id)
			}
		}
	}
	problems = append(problems, t.checkWatched()...)
	sort.Strings(problems)
	return problems
}

// checkWatched checks that what would fail unseen is watched: every SQS queue by an alarm on
// the messages it holds, every function's errors and throttles by an alarm, and the alarms'
// SNS topic is an output (pulse.guard checks that every alarm notifies).
func (t *Template) checkWatched() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	watched := map[string]bool{} // "<logical ID>/<metric>" of every alarm's metrics
	for _, r := range t.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
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
	}
	for id, r := range t.Resources {
		if r.Type == "AWS::SQS::Queue" && !watched[id+"/ApproximateNumberOfMessagesVisible"] {
			add("%s: no alarm watches the queue's ApproximateNumberOfMessagesVisible: what lands in it would go unnoticed", id)
		}
	}
	for _, id := range t.Functions() {
		for _, m := range []string{"Errors", "Throttles"} {
			if !watched[id+"/"+m] {
				add("%s: no alarm watches its %s", id, m)
			}
		}
	}
	if !t.isOutput(func(ref string) bool { return t.Resources[ref].Type == "AWS::SNS::Topic" }) {
		add("no SNS topic for the alarms is an output (AlarmTopicArn)")
	}
	return problems
}

// isOutput reports whether some output's value refers to a resource that is.
func (t *Template) isOutput(is func(ref string) bool) bool {
	for _, o := range t.Outputs {
		m, _ := o.(map[string]any)
		if slices.ContainsFunc(references(m["Value"]), is) {
			return true
		}
	}
	return false
}

// checkMapping checks what pulse.guard's mappings_bounded cannot: each filter pattern is JSON,
// and records that keep failing go to an SQS queue of this template.
func (t *Template) checkMapping(id string, r Resource) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(id+": "+format, args...)) }
	fc, _ := r.Properties["FilterCriteria"].(map[string]any)
	for _, f := range list(fc["Filters"]) {
		var pattern map[string]any
		if err := json.Unmarshal([]byte(str(f, "Pattern")), &pattern); err != nil {
			add("filter pattern %q is not JSON: %v", str(f, "Pattern"), err)
		}
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
