package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
)

// FuzzCloudWatchCBOR fuzzes the body of an RPC v2 CBOR DescribeAlarms,
// signed with the right key: lbsim must not panic, and must answer in
// CBOR, an error with __type, message and X-Amzn-Query-Error, a success
// with the MetricAlarms list.
func FuzzCloudWatchCBOR(f *testing.F) {
	for _, seed := range []cbor.Value{
		cbor.Map{"AlarmNames": cbor.List{cbor.String("web-5xx"), cbor.String("manual"), cbor.String("none")}},
		cbor.Map{"AlarmNamePrefix": cbor.String("web"), "StateValue": cbor.String("OK")},
		cbor.Map{"AlarmTypes": cbor.List{cbor.String("CompositeAlarm")}},
		cbor.Map{"AlarmNames": cbor.String("web-5xx")},
		cbor.Map{"StateValue": cbor.Uint(3)},
		cbor.List{&cbor.Nil{}},
	} {
		f.Add(cbor.Encode(seed))
	}
	f.Add([]byte{})
	f.Add([]byte{0xbf, 0x61})
	s := fuzzSim(f)
	h := s.awsHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest(http.MethodPost, "http://lbsim"+cwRPCPrefix+"DescribeAlarms", strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/cbor")
		req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
		signAWS(t, req, body, cwService)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if ct := rec.Header().Get("Content-Type"); ct != "application/cbor" {
			t.Fatalf("status %d with Content-Type %q: %q", rec.Code, ct, rec.Body)
		}
		v, err := cbor.Decode(rec.Body.Bytes())
		m, _ := v.(cbor.Map)
		if err != nil || m == nil {
			t.Fatalf("status %d, body not a CBOR map (%v): %q", rec.Code, err, rec.Body)
		}
		if rec.Code != http.StatusOK {
			if m["__type"] == nil || m["message"] == nil || rec.Header().Get("X-Amzn-Query-Error") == "" {
				t.Fatalf("status %d without __type, message and X-Amzn-Query-Error: %v", rec.Code, m)
			}
			return
		}
		if _, ok := m["MetricAlarms"].(cbor.List); !ok {
			t.Fatalf("200 without MetricAlarms: %v", m)
		}
	})
}
