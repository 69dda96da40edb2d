// Package openapi holds the checks of openapi.yaml as its users' tools read it: Redocly CLI's
// recommended rules (redocly.yaml, run by make lint) and a TypeScript client generated from it
// by openapi-typescript, compiled by tsc and run against the local API (client.test.mts). The
// Go validator of every response the suite receives lives in internal/apptest.
package openapi
