package sigv4

import (
	"net/http"
	"strings"
	"testing"
)

// The example request of the AWS General Reference's SigV4 walkthrough
// (IAM ListUsers, 2015-08-30).
func exampleRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
	return r
}

func TestValidAgainstTheDocumentedExample(t *testing.T) {
	r := exampleRequest()
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID != "AKIDEXAMPLE" || a.Region != "us-east-1" || a.Service != "iam" || len(a.SignedHeaders) != 3 {
		t.Errorf("parsed = %+v", a)
	}
	if !Valid(r, nil, a, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY") {
		got, _ := Sign(r, nil, a, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
		t.Errorf("documented example does not verify; computed %s", got)
	}
	if Valid(r, nil, a, "other") {
		t.Error("wrong secret verifies")
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		header  string
		wantErr string
	}{
		"missing":      {"", "missing"},
		"other scheme": {"AWS AKID:sig", "must start with AWS4-HMAC-SHA256"},
		"bad scope":    {"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1, SignedHeaders=host, Signature=ab", "is not KEY/DATE/REGION/SERVICE/aws4_request"},
		"no signature": {"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host", "lacks"},
	}
	for name, tc := range tests {
		r, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if _, err := Parse(r); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.wantErr)
		}
	}
}
