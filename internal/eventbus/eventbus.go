// Package eventbus is a local stand-in for Amazon EventBridge's PutEvents, which has no local
// emulator: an HTTP server that speaks the AWS JSON 1.1 protocol the SDK's eventbridge client
// uses, accepts the entries of one bus, and records them in the order received. Tests make it
// fail whole calls or single entries, as EventBridge can (README, "Events": what AWS does
// differently).
package eventbus

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Event is one entry the stand-in accepted.
type Event struct {
	ID         string          `json:"id"`
	Bus        string          `json:"bus"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Time       time.Time       `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

// Envelope is the event as EventBridge delivers it to a rule's target (and to the webhook):
// the entry inside EventBridge's envelope, with a placeholder account and region.
func (e Event) Envelope() []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": e.ID, "detail-type": e.DetailType, "source": e.Source,
		"account": "123456789012", "time": e.Time.UTC().Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": e.Detail})
	return b
}

// Server is the stand-in. The zero value is not usable; call New.
type Server struct {
	Bus string // the one bus that exists
	URL string // what AWS_ENDPOINT_URL_EVENTBRIDGE points at
	// OnEvent, when set, sees every accepted event (make run logs them).
	OnEvent func(Event)

	srv *httptest.Server
	mu  sync.Mutex
	got []Event
	n   int
	// failCalls is how many next calls fail whole (HTTP 500, as a throttled or failing service).
	failCalls int
	// failEntry, when set, fails the entries it returns true for (ErrorCode InternalFailure).
	failEntry func(Event) bool
	calls     int
}

// New starts a stand-in for bus on a loopback port; Close stops it.
func New(bus string) *Server {
	s := &Server{Bus: bus}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// ClientEnv is the environment under which publish.EventBridgeFromEnv builds a client of this
// stand-in (any credentials: it checks none).
func (s *Server) ClientEnv(k string) string {
	return map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": s.URL}[k]
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Events returns what was accepted so far, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.got...)
}

// Calls returns how many PutEvents calls arrived.
func (s *Server) Calls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// FailCalls makes the next n calls fail whole.
func (s *Server) FailCalls(n int) { s.mu.Lock(); defer s.mu.Unlock(); s.failCalls = n }

// FailEntries makes every entry f returns true for fail on its own (nil: none).
func (s *Server) FailEntries(f func(Event) bool) { s.mu.Lock(); defer s.mu.Unlock(); s.failEntry = f }

type putEntry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
	Time         *float64 `json:"Time"`
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// maxEntrySize is EventBridge's limit on an entry (and on a whole call).
const maxEntrySize = 256 * 1024

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "the stand-in serves PutEvents only")
		return
	}
	var in struct{ Entries []putEntry }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEntrySize+64*1024)).Decode(&in); err != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "the request is not a PutEvents request: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failCalls > 0 {
		s.failCalls--
		awsError(w, http.StatusInternalServerError, "InternalException", "the stand-in was told to fail this call")
		return
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		awsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: 'entries' must have between 1 and 10 items, got %d", len(in.Entries)))
		return
	}
	out := struct {
		FailedEntryCount int
		Entries          []resultEntry
	}{}
	for _, e := range in.Entries {
		res := s.accept(e)
		if res.ErrorCode != "" {
			out.FailedEntryCount++
		}
		out.Entries = append(out.Entries, res)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// accept checks one entry as EventBridge does and records it, or says why not.
func (s *Server) accept(e putEntry) resultEntry {
	var detail map[string]any
	switch {
	case e.Source == "" || e.DetailType == "":
		return resultEntry{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter(s) Source and DetailType must be specified."}
	case json.Unmarshal([]byte(e.Detail), &detail) != nil:
		return resultEntry{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}
	case len(e.Source)+len(e.DetailType)+len(e.Detail) > maxEntrySize:
		return resultEntry{ErrorCode: "InvalidArgument", ErrorMessage: "Total size of the entries in the request is over the limit."}
	case e.EventBusName != s.Bus:
		return resultEntry{ErrorCode: "ResourceNotFoundException", ErrorMessage: fmt.Sprintf("Event bus %s does not exist.", e.EventBusName)}
	}
	ev := Event{Bus: e.EventBusName, Source: e.Source, DetailType: e.DetailType, Detail: json.RawMessage(e.Detail), Time: time.Now().UTC()}
	if e.Time != nil {
		ev.Time = time.Unix(0, int64(*e.Time*1e9)).UTC()
	}
	if s.failEntry != nil && s.failEntry(ev) {
		return resultEntry{ErrorCode: "InternalFailure", ErrorMessage: "the stand-in was told to fail this entry"}
	}
	s.n++
	ev.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.n)
	s.got = append(s.got, ev)
	if s.OnEvent != nil {
		s.OnEvent(ev)
	}
	return resultEntry{EventID: ev.ID}
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
