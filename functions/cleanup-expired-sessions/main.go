// Command cleanup-expired-sessions is the scheduled Lambda function that ends expired sessions.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/pulse-sessions/pulse/shared/app"
)

func main() {
	// Configuration, SDK client and store are built once per cold start, never per run.
	deps, err := app.Load(os.Getenv)
	if err != nil {
		app.Fatal(err)
	}
	lambda.Start(app.Cleanup(deps))
}
