package lb

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/hetznercloud/hcloud-go/v2/hcloud/metadata"

	"github.com/zerodowntime/rolling/modules/internal/failure"
)

// MetadataURL is the default metadata service address of both providers.
// metadata_url takes the same form: the service's base URL; for Hetzner the
// module adds HetznerMetadataPath unless the URL already has a /hetzner/
// path.
const (
	MetadataURL         = "http://169.254.169.254"
	HetznerMetadataPath = "/hetzner/v1/metadata"
)

// metadataTimeout bounds one metadata lookup; the services answer from the
// host itself, so anything slower means there is none.
const metadataTimeout = 5 * time.Second

// HetznerServerID asks the Hetzner metadata service at url (the service's
// base URL, or its metadata root ".../hetzner/v1/metadata") for the server's
// own id.
func HetznerServerID(ctx context.Context, url string) (string, error) {
	if url == "" {
		url = MetadataURL
	}
	url = strings.TrimRight(url, "/")
	if !strings.Contains(url, "/hetzner/") {
		url += HetznerMetadataPath
	}
	c := metadata.NewClient(metadata.WithEndpoint(strings.TrimRight(url, "/")), metadata.WithTimeout(metadataTimeout))
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	id, err := c.InstanceIDWithContext(ctx)
	if err != nil {
		return "", metadataError(Hetzner, url, "instance-id", err)
	}
	return strconv.FormatInt(id, 10), nil
}

// AWSMetadata asks the EC2 instance metadata service at url (IMDSv2, with a
// session token) for path, e.g. "instance-id" or "local-ipv4".
func AWSMetadata(ctx context.Context, url, path string) (string, error) {
	if url == "" {
		url = MetadataURL
	}
	c := imds.New(imds.Options{
		Endpoint: strings.TrimRight(url, "/"),
		// Asked for explicitly with target: auto, so AWS_EC2_METADATA_DISABLED
		// (meant for credential probing) does not apply.
		ClientEnableState: imds.ClientEnabled,
	})
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	out, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", metadataError(AWS, url, path, err)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 4096))
	if err != nil {
		return "", metadataError(AWS, url, path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", metadataError(AWS, url, path, fmt.Errorf("empty answer"))
	}
	return v, nil
}

// AWSRegion asks IMDS for the instance's region.
func AWSRegion(ctx context.Context, url string) (string, error) {
	return AWSMetadata(ctx, url, "placement/region")
}

func metadataError(provider, url, what string, err error) error {
	return failure.Errorf(provider, failure.Metadata, "metadata "+url, err,
		"cannot read %s from the %s metadata service at %s: %v; target: auto only works on the %s instance itself (set metadata_url or %s to reach another address, or give target explicitly)",
		what, provider, url, err, provider, MetadataEnv)
}
