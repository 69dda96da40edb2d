package e2e_test

import (
	"testing"

	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
)

// step is one function's events/ file replayed against the demo data, and what it answers: an
// HTTP status, or for a task what its handler returns (taskSummary, taskBatch).
type step struct {
	fn     string
	status int
}

const (
	taskSummary = 0  // the scheduled cleanup returns its summary
	taskBatch   = -1 // the publisher returns the records to retry
)

// plan is the one order in which the system tests replay every function's events/ file:
// TestEventsReplay through the Lambda adapter in process, TestBuiltFunctionsUnderRuntimeAPI on
// the built binaries under AWS's emulator. In this order because the token is created before it
// is revoked, the session before it is read, and the user deleted last. A function of the
// template without a step fails checkPlan, naming it.
var plan = []step{
	{"PutUserFunction", 200}, {"GetUserFunction", 200}, {"GetPermissionsFunction", 200}, {"CreateSessionFunction", 201}, {"GetSessionFunction", 200},
	{"RecordActivityFunction", 204}, {"RecordActivitiesFunction", 200}, {"ListUserSessionsFunction", 200}, {"ListActiveUsersFunction", 200},
	{"ListDailyActiveUsersFunction", 200}, {"ListNewUsersFunction", 200}, {"ListUsersByHourFunction", 200},
	{"ListBusierHoursFunction", 200}, {"ListBusierDaysFunction", 200}, {"ListActiveUserCountsFunction", 200},
	{"ListActiveSessionsFunction", 200}, {"SearchSessionsFunction", 200}, {"RevokeMatchingSessionsFunction", 200},
	{"DashboardFunction", 200},
	{"CreateTokenFunction", 201}, {"GetTokenFunction", 200}, {"RevokeTokenFunction", 204},
	{"RevokeSessionFunction", 204}, {"RevokeUserSessionsFunction", 204}, {"DeleteUserFunction", 204},
	{"CleanupExpiredSessionsFunction", taskSummary}, {"PublishEventsFunction", taskBatch},
}

// checkPlan fails for every function of the template that the plan leaves out, or names twice.
func checkPlan(t *testing.T, tpl *template.Template) {
	t.Helper()
	steps := map[string]int{}
	for _, s := range plan {
		steps[s.fn]++
	}
	for _, id := range tpl.Functions() {
		switch steps[id] {
		case 0:
			t.Errorf("%s has no step in the replay plan (internal/e2e/plan_test.go): add its events/ file's place and status", id)
		case 1:
		default:
			t.Errorf("%s has %d steps in the replay plan", id, steps[id])
		}
		delete(steps, id)
	}
	for id := range steps {
		t.Errorf("the replay plan names %s, which template.yaml does not have", id)
	}
}

// folders maps each function's logical ID to its folder under functions/.
func folders(t *testing.T) map[string]string {
	t.Helper()
	f, err := lambdarun.Targets("../..")
	if err != nil {
		t.Fatal(err)
	}
	return f
}
