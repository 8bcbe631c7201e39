// Package deps pins the SDK versions in go.mod until the modules import them; delete it then.
package deps

import (
	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	_ "github.com/haproxytech/client-native/v5/runtime"
	_ "github.com/hetznercloud/hcloud-go/v2/hcloud"
	_ "gopkg.in/yaml.v3"
)
