// Package e2e holds Pulse's system tests: the whole API through real HTTP and the Lambda
// adapter, the built functions under AWS's Runtime Interface Emulator and Pulse's own Runtime
// API harness, DynamoDB Local stopped and restarted under load, tenants probing each other,
// erasures racing logins, every events/ file replayed. `make test` runs this package after the
// others, alone: its built-function tests hold a function to its template timeout, and DynamoDB
// Local gets slow when it shares the CPU. It has no code of its own.
package e2e
