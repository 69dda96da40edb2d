// Command get-session is the Lambda function behind GET /api/users/{user_id}/sessions/{session_id}.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/pulse-sessions/pulse/shared/app"
)

func main() {
	// Configuration, SDK client and store are built once per cold start, never per request.
	deps, err := app.Load(os.Getenv)
	if err != nil {
		app.Fatal(err)
	}
	lambda.Start(app.Lambda(deps, app.GetSession))
}
