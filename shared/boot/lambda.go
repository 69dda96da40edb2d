package boot

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/pulse-sessions/pulse/shared/lambdahttp"
)

// Serve is an HTTP function's whole main: it loads the Base from the environment Lambda sets,
// opens the function's one surface and starts serving route keys, exiting with a logged init
// error when any step fails (Lambda reports it as the function's Init error).
func Serve[S lambdahttp.Surface](open func(*Base) (S, error), keys ...string) {
	b, err := Load(os.Getenv)
	if err != nil {
		lambdahttp.Fatal(err)
	}
	s, err := open(b)
	if err != nil {
		lambdahttp.Fatal(err)
	}
	lambdahttp.Start(b.Log, b.IDs, s, keys...)
}

// Run is a task function's whole main: the Base, then the handler open builds from it.
func Run[H any](open func(*Base) (H, error)) {
	b, err := Load(os.Getenv)
	if err != nil {
		lambdahttp.Fatal(err)
	}
	h, err := open(b)
	if err != nil {
		lambdahttp.Fatal(err)
	}
	lambda.Start(h)
}
