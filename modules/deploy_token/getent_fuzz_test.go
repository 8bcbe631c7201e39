package deploytoken

import (
	"bytes"
	"testing"
)

// FuzzFirstLine: whatever getent writes, in whatever pieces, firstLine
// keeps exactly the start of it up to the first newline, never more than
// maxEntry bytes, and asks once for getent to be ended when it has that.
func FuzzFirstLine(f *testing.F) {
	f.Add([]byte("deploy:x:1001:1001::/home/deploy:/bin/sh\n"), uint16(7))
	f.Add([]byte("no newline at all"), uint16(1))
	f.Add([]byte("a:x:1:1\nb:x:2:2\n"), uint16(100))
	f.Add(bytes.Repeat([]byte("y"), maxEntry+10), uint16(4096))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		size := int(chunk)%8192 + 1
		calls := 0
		w := &firstLine{done: func() { calls++ }}
		for rest := data; len(rest) > 0; {
			n := min(size, len(rest))
			if got, err := w.Write(rest[:n]); got != n || err != nil {
				t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
			}
			rest = rest[n:]
		}
		want := data[:min(len(data), maxEntry)]
		if i := bytes.IndexByte(want, '\n'); i >= 0 {
			want = want[:i+1]
		}
		full := bytes.IndexByte(want, '\n') >= 0 || len(want) == maxEntry
		if !bytes.Equal(w.b, want) {
			t.Fatalf("kept %q, want %q", w.b, want)
		}
		if w.full != full || calls != map[bool]int{true: 1, false: 0}[full] {
			t.Fatalf("full %v after %d calls of done, want %v", w.full, calls, full)
		}
	})
}
