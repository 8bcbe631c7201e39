package sim

import (
	"encoding/xml"
	"net/http"
)

// XML shapes of the ELBv2 Query API (2015-12-01), written from the API
// reference and the element names the SDK deserializers look for.

const awsNS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

type awsResponse struct {
	XMLName xml.Name
	Xmlns   string      `xml:"xmlns,attr"`
	Result  any         `xml:",omitempty"`
	Meta    awsMetadata `xml:"ResponseMetadata"`
}

type awsMetadata struct {
	RequestID string `xml:"RequestId"`
}

type awsErrorResponse struct {
	XMLName   xml.Name    `xml:"ErrorResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	Error     awsErrorXML `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type awsErrorXML struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type awsEmptyResult struct {
	XMLName xml.Name
}

type awsTargetXML struct {
	ID               string `xml:"Id"`
	Port             int    `xml:"Port"`
	AvailabilityZone string `xml:"AvailabilityZone,omitempty"`
}

type awsTargetHealthXML struct {
	State       string `xml:"State"`
	Reason      string `xml:"Reason,omitempty"`
	Description string `xml:"Description,omitempty"`
}

type awsTHDXML struct {
	Target          awsTargetXML       `xml:"Target"`
	HealthCheckPort string             `xml:"HealthCheckPort"`
	TargetHealth    awsTargetHealthXML `xml:"TargetHealth"`
}

type awsDescribeTargetHealthResult struct {
	XMLName      xml.Name `xml:"DescribeTargetHealthResult"`
	Descriptions struct {
		Members []awsTHDXML `xml:"member"`
	} `xml:"TargetHealthDescriptions"`
}

type awsMatcherXML struct {
	HTTPCode string `xml:"HttpCode"`
}

type awsTargetGroupXML struct {
	TargetGroupArn             string        `xml:"TargetGroupArn"`
	TargetGroupName            string        `xml:"TargetGroupName"`
	Protocol                   string        `xml:"Protocol"`
	Port                       int           `xml:"Port"`
	VpcID                      string        `xml:"VpcId"`
	HealthCheckProtocol        string        `xml:"HealthCheckProtocol"`
	HealthCheckPort            string        `xml:"HealthCheckPort"`
	HealthCheckEnabled         bool          `xml:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int           `xml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int           `xml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int           `xml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int           `xml:"UnhealthyThresholdCount"`
	HealthCheckPath            string        `xml:"HealthCheckPath,omitempty"`
	Matcher                    awsMatcherXML `xml:"Matcher"`
	LoadBalancerArns           struct {
		Members []string `xml:"member"`
	} `xml:"LoadBalancerArns"`
	TargetType      string `xml:"TargetType"`
	ProtocolVersion string `xml:"ProtocolVersion"`
	IPAddressType   string `xml:"IpAddressType"`
}

type awsDescribeTargetGroupsResult struct {
	XMLName      xml.Name `xml:"DescribeTargetGroupsResult"`
	TargetGroups struct {
		Members []awsTargetGroupXML `xml:"member"`
	} `xml:"TargetGroups"`
	NextMarker string `xml:"NextMarker,omitempty"`
}

type awsAttributeXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type awsDescribeAttributesResult struct {
	XMLName    xml.Name `xml:"DescribeTargetGroupAttributesResult"`
	Attributes struct {
		Members []awsAttributeXML `xml:"member"`
	} `xml:"Attributes"`
}

// awsWrite writes a success response for op.
func awsWrite(w http.ResponseWriter, op, reqID string, result any) {
	if result == nil {
		result = awsEmptyResult{XMLName: xml.Name{Local: op + "Result"}}
	}
	b, err := xml.Marshal(awsResponse{XMLName: xml.Name{Local: op + "Response"}, Xmlns: awsNS, Result: result, Meta: awsMetadata{RequestID: reqID}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// awsFail writes the XML error envelope.
func awsFail(w http.ResponseWriter, status int, code, msg, reqID string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	b, _ := xml.Marshal(awsErrorResponse{Xmlns: awsNS, Error: awsErrorXML{Type: typ, Code: code, Message: msg}, RequestID: reqID})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
