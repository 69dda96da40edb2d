package dashboard

import "log/slog"

// Open composes the dashboard for its function: the page and its assets, which read the other
// surfaces over HTTP with the signed-in user's token. It needs a logger and nothing else, so its
// function is served by package lambdahttp without a store or a DynamoDB client (none of the
// SDK's tables are initialised at its cold start) and has no table permission.
func Open(log *slog.Logger) (*API, error) { return New(log), nil }
