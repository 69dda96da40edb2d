package engage

import (
	"bytes"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// A sent answer's buffer must not outlive it: its compressor goes back to the pool, and a
// pooled writer still pointed at the buffer would keep the whole body alive while the Lambda
// adapter copies and encodes it (the function's peak memory grew by about 10 MB at 30 days).
func TestSentAnswerLeavesNothingInThePool(t *testing.T) {
	a := newAnswer(true, 1<<20)
	zw := a.zw // what the pool will hold
	if err := a.write(bytes.Repeat([]byte(`{"day":"2026-12-04","users":["u1","u2"]},`), 2000)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := a.send(rec); err != nil {
		t.Fatal(err)
	}
	// The buffer as sent (closing the compressor may have grown it).
	freed := make(chan struct{})
	runtime.AddCleanup(unsafe.SliceData(a.buf.Bytes()), func(ch chan struct{}) { close(ch) }, freed)
	if rec.Body.Len() == 0 || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("sent %d bytes, Content-Encoding %q", rec.Body.Len(), rec.Header().Get("Content-Encoding"))
	}
	a = nil
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-freed:
			runtime.KeepAlive(zw)
			return
		case <-deadline:
			t.Fatal("the answer's buffer is still reachable from its pooled gzip writer")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
