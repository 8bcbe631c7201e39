package sim

import (
	"strconv"
	"time"
)

// JSON shapes of the Hetzner Cloud API, written from the API documentation
// (docs.hetzner.cloud) and the fields the clients read.

type hzError struct {
	Error hzErrorBody `json:"error"`
}

type hzErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details"`
}

type hzInvalidField struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages"`
}

type hzMeta struct {
	Pagination hzPagination `json:"pagination"`
}

type hzPagination struct {
	Page         int  `json:"page"`
	PerPage      int  `json:"per_page"`
	PreviousPage *int `json:"previous_page"`
	NextPage     *int `json:"next_page"`
	LastPage     *int `json:"last_page"`
	TotalEntries *int `json:"total_entries"`
}

type hzLocation struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Country     string  `json:"country"`
	City        string  `json:"city"`
	Latitude    float64 `json:"latitude"`
	Longitude   float64 `json:"longitude"`
	NetworkZone string  `json:"network_zone"`
}

var hzLocations = map[string]hzLocation{
	"fsn1": {1, "fsn1", "Falkenstein DC Park 1", "DE", "Falkenstein", 50.47612, 12.370071, "eu-central"},
	"nbg1": {2, "nbg1", "Nuremberg DC Park 1", "DE", "Nuremberg", 49.452102, 11.076665, "eu-central"},
	"hel1": {3, "hel1", "Helsinki DC Park 1", "FI", "Helsinki", 60.169855, 24.938379, "eu-central"},
	"ash":  {4, "ash", "Ashburn, VA", "US", "Ashburn, VA", 39.045821, -77.487073, "us-east"},
	"hil":  {5, "hil", "Hillsboro, OR", "US", "Hillsboro, OR", 45.54222, -122.95194, "us-west"},
	"sin":  {6, "sin", "Singapore", "SG", "Singapore", 1.283333, 103.833333, "ap-southeast"},
}

func hzLocationOf(name string) hzLocation {
	if l, ok := hzLocations[name]; ok {
		return l
	}
	return hzLocation{ID: 99, Name: name, Description: name, Country: "DE", City: name, NetworkZone: "eu-central"}
}

type hzLBType struct {
	ID                      int64  `json:"id"`
	Name                    string `json:"name"`
	Description             string `json:"description"`
	MaxConnections          int    `json:"max_connections"`
	MaxServices             int    `json:"max_services"`
	MaxTargets              int    `json:"max_targets"`
	MaxAssignedCertificates int    `json:"max_assigned_certificates"`
	Deprecated              *bool  `json:"deprecated"`
	Prices                  []any  `json:"prices"`
}

type hzLoadBalancer struct {
	ID               int64             `json:"id"`
	Name             string            `json:"name"`
	PublicNet        hzLBPublicNet     `json:"public_net"`
	PrivateNet       []hzLBPrivateNet  `json:"private_net"`
	Location         hzLocation        `json:"location"`
	LoadBalancerType hzLBType          `json:"load_balancer_type"`
	Protection       hzProtection      `json:"protection"`
	Labels           map[string]string `json:"labels"`
	Created          string            `json:"created"`
	Services         []hzServiceJSON   `json:"services"`
	Targets          []hzTargetJSON    `json:"targets"`
	Algorithm        hzAlgorithm       `json:"algorithm"`
	OutgoingTraffic  *uint64           `json:"outgoing_traffic"`
	IngoingTraffic   *uint64           `json:"ingoing_traffic"`
	IncludedTraffic  uint64            `json:"included_traffic"`
}

type hzLBPublicNet struct {
	Enabled bool   `json:"enabled"`
	IPv4    hzIPv4 `json:"ipv4"`
	IPv6    hzIPv4 `json:"ipv6"`
}

type hzIPv4 struct {
	IP     string  `json:"ip"`
	DNSPtr *string `json:"dns_ptr"`
}

type hzLBPrivateNet struct {
	Network int64  `json:"network"`
	IP      string `json:"ip"`
}

type hzProtection struct {
	Delete bool `json:"delete"`
}

type hzAlgorithm struct {
	Type string `json:"type"`
}

type hzServiceJSON struct {
	Protocol        string        `json:"protocol"`
	ListenPort      int           `json:"listen_port"`
	DestinationPort int           `json:"destination_port"`
	Proxyprotocol   bool          `json:"proxyprotocol"`
	HTTP            hzServiceHTTP `json:"http"`
	HealthCheck     hzHealthCheck `json:"health_check"`
}

type hzServiceHTTP struct {
	CookieName     string  `json:"cookie_name"`
	CookieLifetime int     `json:"cookie_lifetime"`
	Certificates   []int64 `json:"certificates"`
	RedirectHTTP   bool    `json:"redirect_http"`
	StickySessions bool    `json:"sticky_sessions"`
	TimeoutIdle    int     `json:"timeout_idle"`
}

type hzHealthCheck struct {
	Protocol string            `json:"protocol"`
	Port     int               `json:"port"`
	Interval int               `json:"interval"`
	Timeout  int               `json:"timeout"`
	Retries  int               `json:"retries"`
	HTTP     *hzHealthCheckHTP `json:"http,omitempty"`
}

type hzHealthCheckHTP struct {
	Domain      *string  `json:"domain"`
	Path        string   `json:"path"`
	Response    string   `json:"response"`
	StatusCodes []string `json:"status_codes"`
	TLS         bool     `json:"tls"`
}

type hzTargetJSON struct {
	Type          string            `json:"type"`
	Server        *hzTargetServer   `json:"server,omitempty"`
	LabelSelector *hzTargetSelector `json:"label_selector,omitempty"`
	IP            *hzTargetIP       `json:"ip,omitempty"`
	HealthStatus  []hzHealthStatus  `json:"health_status,omitempty"`
	UsePrivateIP  *bool             `json:"use_private_ip,omitempty"`
	Targets       *[]hzTargetJSON   `json:"targets,omitempty"`
}

type hzTargetServer struct {
	ID int64 `json:"id"`
}

type hzTargetSelector struct {
	Selector string `json:"selector"`
}

type hzTargetIP struct {
	IP string `json:"ip"`
}

type hzHealthStatus struct {
	ListenPort     int     `json:"listen_port"`
	Status         string  `json:"status"`
	Detail         *string `json:"detail,omitempty"`
	HTTPStatusCode *int    `json:"http_status_code,omitempty"`
}

type hzActionJSON struct {
	ID        int64           `json:"id"`
	Command   string          `json:"command"`
	Status    string          `json:"status"`
	Progress  int             `json:"progress"`
	Started   string          `json:"started"`
	Finished  *string         `json:"finished"`
	Resources []hzResource    `json:"resources"`
	Error     *hzActionErrMsg `json:"error"`
}

type hzResource struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type hzActionErrMsg struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type hzServer struct {
	ID              int64             `json:"id"`
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	Created         string            `json:"created"`
	PublicNet       hzServerPublicNet `json:"public_net"`
	PrivateNet      []hzServerPrivNet `json:"private_net"`
	ServerType      hzServerType      `json:"server_type"`
	Datacenter      hzDatacenter      `json:"datacenter"`
	Location        hzLocation        `json:"location"`
	Image           *hzImage          `json:"image"`
	ISO             any               `json:"iso"`
	RescueEnabled   bool              `json:"rescue_enabled"`
	Locked          bool              `json:"locked"`
	BackupWindow    *string           `json:"backup_window"`
	OutgoingTraffic *uint64           `json:"outgoing_traffic"`
	IngoingTraffic  *uint64           `json:"ingoing_traffic"`
	IncludedTraffic uint64            `json:"included_traffic"`
	Protection      hzServerProt      `json:"protection"`
	Labels          map[string]string `json:"labels"`
	Volumes         []int64           `json:"volumes"`
	LoadBalancers   []int64           `json:"load_balancers"`
	PrimaryDiskSize int               `json:"primary_disk_size"`
	PlacementGroup  any               `json:"placement_group"`
}

type hzServerPublicNet struct {
	IPv4        *hzServerIP `json:"ipv4"`
	IPv6        *hzServerV6 `json:"ipv6"`
	FloatingIPs []int64     `json:"floating_ips"`
	Firewalls   []any       `json:"firewalls"`
}

type hzServerIP struct {
	ID      int64  `json:"id"`
	IP      string `json:"ip"`
	Blocked bool   `json:"blocked"`
	DNSPtr  string `json:"dns_ptr"`
}

type hzServerV6 struct {
	ID      int64  `json:"id"`
	IP      string `json:"ip"`
	Blocked bool   `json:"blocked"`
	DNSPtr  []any  `json:"dns_ptr"`
}

type hzServerPrivNet struct {
	Network    int64    `json:"network"`
	IP         string   `json:"ip"`
	AliasIPs   []string `json:"alias_ips"`
	MACAddress string   `json:"mac_address"`
}

type hzServerType struct {
	ID           int64   `json:"id"`
	Name         string  `json:"name"`
	Description  string  `json:"description"`
	Cores        int     `json:"cores"`
	Memory       float64 `json:"memory"`
	Disk         int     `json:"disk"`
	Deprecated   bool    `json:"deprecated"`
	Prices       []any   `json:"prices"`
	StorageType  string  `json:"storage_type"`
	CPUType      string  `json:"cpu_type"`
	Architecture string  `json:"architecture"`
}

type hzDatacenter struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Location    hzLocation `json:"location"`
	ServerTypes struct {
		Supported             []int64 `json:"supported"`
		Available             []int64 `json:"available"`
		AvailableForMigration []int64 `json:"available_for_migration"`
	} `json:"server_types"`
}

type hzImage struct {
	ID           int64             `json:"id"`
	Type         string            `json:"type"`
	Status       string            `json:"status"`
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	OSFlavor     string            `json:"os_flavor"`
	OSVersion    string            `json:"os_version"`
	RapidDeploy  bool              `json:"rapid_deploy"`
	Created      string            `json:"created"`
	Deprecated   *string           `json:"deprecated"`
	Architecture string            `json:"architecture"`
	Labels       map[string]string `json:"labels"`
	Protection   hzProtection      `json:"protection"`
}

type hzServerProt struct {
	Delete  bool `json:"delete"`
	Rebuild bool `json:"rebuild"`
}

// hzTime formats t the way the API does: 2024-05-01T10:00:00+00:00.
func hzTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05") + "+00:00"
}

func itoa64(i int64) string { return strconv.FormatInt(i, 10) }
