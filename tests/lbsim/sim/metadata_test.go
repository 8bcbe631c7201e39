package sim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/metadata"

	"github.com/zerodowntime/rolling/tests/lbsim/sim"
)

func TestMetadata(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, nil)
	ctx := ctxT(t, 10*time.Second)
	host := w.ep.Hosts[1]
	if host.Address != w.hosts[1] || host.ServerName != "app-2" || host.InstanceID != instanceID(1) || w.ep.Metadata["app-2"] != host.MetadataURL {
		t.Fatalf("host endpoint = %+v", host)
	}

	// hcloud-go's metadata client.
	hm := metadata.NewClient(metadata.WithEndpoint(host.HetznerMetadata), metadata.WithTimeout(time.Second))
	if id, err := hm.InstanceIDWithContext(ctx); err != nil || id != 102 {
		t.Errorf("hetzner instance-id = %d, %v", id, err)
	}
	if name, err := hm.HostnameWithContext(ctx); err != nil || name != "app-2" {
		t.Errorf("hetzner hostname = %q, %v", name, err)
	}
	if !hm.IsHcloudServerWithContext(ctx) {
		t.Error("IsHcloudServer = false")
	}
	if nets, err := hm.PrivateNetworksWithContext(ctx); err != nil || strings.TrimSpace(nets) != "[]" {
		t.Errorf("private-networks = %q, %v", nets, err)
	}

	// aws-sdk-go-v2's IMDS client: PUT token, then GET with it.
	im := imds.New(imds.Options{Endpoint: host.MetadataURL, EnableFallback: aws.FalseTernary})
	out, err := im.GetMetadata(ctx, &imds.GetMetadataInput{Path: "instance-id"})
	if err != nil {
		t.Fatalf("imds instance-id: %v", err)
	}
	b, _ := io.ReadAll(out.Content)
	if string(b) != instanceID(1) {
		t.Errorf("imds instance-id = %q", b)
	}
	if az, err := im.GetRegion(ctx, nil); err != nil || az.Region != "eu-central-1" {
		t.Errorf("imds region = %+v, %v", az, err)
	}
	if c := w.sim.Counts().API; c["metadata PUT /latest/api/token"] != 1 {
		t.Errorf("token requests = %v, want 1 (cached)", c)
	}

	// IMDSv2 only: no token, 401; bad TTL, 400.
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		want               int
	}{
		{"no token", "GET", "/latest/meta-data/instance-id", nil, 401},
		{"bad token", "GET", "/latest/meta-data/instance-id", map[string]string{"X-aws-ec2-metadata-token": "nope"}, 401},
		{"token without ttl", "PUT", "/latest/api/token", nil, 400},
		{"token ttl too long", "PUT", "/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "21601"}, 400},
		{"hetzner root", "GET", "/hetzner/v1/metadata", nil, 200},
		{"unknown", "GET", "/nope", nil, 404},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, host.MetadataURL+tc.path, nil)
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}

	// Metadata down: connections close without an answer.
	if err := w.sim.SetFaults(sim.Faults{Metadata: sim.MetadataFaults{Down: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := hm.InstanceIDWithContext(ctx); err == nil {
		t.Error("metadata down: hetzner instance-id succeeded")
	}
	if hm.IsHcloudServerWithContext(ctx) {
		t.Error("metadata down: IsHcloudServer = true")
	}
	_ = w.sim.SetFaults(sim.Faults{Metadata: sim.MetadataFaults{APIFaults: sim.APIFaults{ErrorRate: 1, ErrorStatus: 503}}})
	if _, err := hm.HostnameWithContext(ctx); err == nil {
		t.Error("metadata 503: hostname succeeded")
	}
}
