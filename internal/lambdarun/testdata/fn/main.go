// Command fn is a test function for the Runtime API harness: it echoes, fails, panics, exits or
// sleeps past its deadline as its event asks.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Op string `json:"op"`
}

func main() {
	lambda.Start(func(ctx context.Context, e event) (map[string]any, error) {
		switch e.Op {
		case "error":
			return nil, errors.New("asked to fail")
		case "panic":
			panic("asked to panic")
		case "exit":
			os.Exit(3)
		case "sleep":
			<-ctx.Done() // until the deadline the runtime passed
			time.Sleep(time.Hour)
		}
		deadline, _ := ctx.Deadline()
		return map[string]any{"op": e.Op, "pid": os.Getpid(), "has_deadline": !deadline.IsZero(), "table": os.Getenv("TABLE_NAME")}, nil
	})
}
