package sim

// Endpoints is where everything listens and which credentials the clients
// need. The lbsim command prints it as its one startup line.
type Endpoints struct {
	// HetznerAPI is the hcloud endpoint including /v1 (HCLOUD_ENDPOINT,
	// hcloud.WithEndpoint).
	HetznerAPI   string `json:"hetzner_api"`
	HetznerToken string `json:"hetzner_token"`
	// AWSAPI is the ELBv2 endpoint (aws --endpoint-url, BaseEndpoint).
	AWSAPI             string `json:"aws_api"`
	AWSRegion          string `json:"aws_region"`
	AWSAccessKeyID     string `json:"aws_access_key_id"`
	AWSSecretAccessKey string `json:"aws_secret_access_key"`
	// Admin is the admin endpoint's base URL.
	Admin string `json:"admin"`
	// Metadata maps each server name, server id, instance id and host
	// address to the base URL of that host's metadata server.
	Metadata map[string]string `json:"metadata"`
	// Hosts lists every simulated host (one per distinct address).
	Hosts []HostEndpoint `json:"hosts"`
	// Services are the Hetzner load balancer services (data plane).
	Services []ServiceEndpoint `json:"services"`
	// Listeners are the AWS listeners (data plane).
	Listeners []ListenerEndpoint `json:"listeners"`
	// Apps are the built-in backends, if any.
	Apps []AppEndpoint `json:"apps,omitempty"`
}

// HostEndpoint is one simulated host and its metadata server.
type HostEndpoint struct {
	Address string `json:"address"`
	// MetadataURL is the base URL of the host's metadata server, i.e. what
	// AWS_EC2_METADATA_SERVICE_ENDPOINT or imds.Options.Endpoint take.
	MetadataURL string `json:"metadata_url"`
	// HetznerMetadata is the URL hcloud-go's metadata.WithEndpoint takes
	// (MetadataURL + /hetzner/v1/metadata); empty if no server lives here.
	HetznerMetadata string `json:"hetzner_metadata,omitempty"`
	ServerID        int64  `json:"server_id,omitempty"`
	ServerName      string `json:"server_name,omitempty"`
	InstanceID      string `json:"instance_id,omitempty"`
}

// ServiceEndpoint is a Hetzner load balancer service.
type ServiceEndpoint struct {
	LoadBalancer    string `json:"load_balancer"`
	LoadBalancerID  int64  `json:"load_balancer_id"`
	ListenPort      int    `json:"listen_port"`
	DestinationPort int    `json:"destination_port"`
	Address         string `json:"address"`
	URL             string `json:"url"`
}

// ListenerEndpoint is an AWS listener.
type ListenerEndpoint struct {
	LoadBalancer   string `json:"load_balancer"`
	TargetGroup    string `json:"target_group"`
	TargetGroupARN string `json:"target_group_arn"`
	Address        string `json:"address"`
	URL            string `json:"url"`
}

// AppEndpoint is a built-in backend.
type AppEndpoint struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	URL     string `json:"url"`
}

// Endpoints returns the bound addresses and credentials.
func (s *Sim) Endpoints() Endpoints {
	e := s.endpoints
	e.Metadata = make(map[string]string, len(s.endpoints.Metadata))
	for k, v := range s.endpoints.Metadata {
		e.Metadata[k] = v
	}
	e.Hosts = append([]HostEndpoint(nil), e.Hosts...)
	e.Services = append([]ServiceEndpoint(nil), e.Services...)
	e.Listeners = append([]ListenerEndpoint(nil), e.Listeners...)
	e.Apps = append([]AppEndpoint(nil), e.Apps...)
	return e
}
