package awselb_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

func TestAWSAutoTargetIMDSv2(t *testing.T) {
	lbtest.AWSEnv(t)
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "PUT" && r.URL.Path == "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			w.Write([]byte("tok123"))
		case r.Method == "GET" && r.URL.Path == "/latest/meta-data/instance-id" && r.Header.Get("X-Aws-Ec2-Metadata-Token") == "tok123":
			w.Write([]byte("i-1"))
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}))
	defer imds.Close()
	srv := lbtest.New(t, groups("web", webGroup), health(webARN, i1, i2))
	r := lbtest.RunModule(t, "lb_register", awsArgs(srv, map[string]any{"target": "auto", "metadata_url": imds.URL}))
	lbtest.CheckRun(t, r, false, false, nil, "")
	if lbtest.Get(r.Out, "target", "id") != "i-1" {
		t.Errorf("target %v", r.Out["target"])
	}
}
