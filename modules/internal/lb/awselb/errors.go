package awselb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/lb"
)

func (c *Client) targetError(err error, p *Pool, t lb.Target, doing string) error {
	if apiCode(err) == "InvalidTarget" {
		return failure.Errorf(lb.AWS, failure.TargetUnknown, "target "+t.ID, err,
			"target %s is not valid for target group %s (InvalidTarget: %s): check that the %s exists in region %s and in the group's VPC, and target_port",
			t, p.name, apiMessage(err), strings.ReplaceAll(p.TargetType(), "ip", "IP"), c.region)
	}
	return c.classify(err, p.resource(), fmt.Sprintf("%s %s in target group %s", doing, t, p.name))
}

var authCodes = map[string]bool{
	"InvalidClientTokenId": true, "UnrecognizedClientException": true, "SignatureDoesNotMatch": true,
	"IncompleteSignature": true, "AuthFailure": true, "ExpiredToken": true, "ExpiredTokenException": true,
	"InvalidAccessKeyId": true, "MissingAuthenticationToken": true, "InvalidSignatureException": true,
}

var throttleCodes = retry.DefaultThrottleErrorCodes

// elbv2API is how errors of the ELBv2 API name it and the permissions a
// run needs.
var elbv2API = apiWords{APIName, "elasticloadbalancing:DescribeTargetGroups, DescribeTargetGroupAttributes, DescribeTargetHealth, RegisterTargets and DeregisterTargets",
	"drain fewer hosts at once, or retry later"}

// apiWords are what an error message says of one AWS API.
type apiWords struct {
	name  string // "ELBv2 API"
	perms string // the IAM actions to allow
	calm  string // what to do about throttling
}

// classify words an SDK error of the ELBv2 API for the user.
func (c *Client) classify(err error, resource, doing string) error {
	return classify(err, elbv2API, resource, doing)
}

// classify words an SDK error for the user, from the API's code and message
// only: the SDK's own text can carry request details.
func classify(err error, api apiWords, resource, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if IsCertificateError(err) {
			return failure.Errorf(lb.AWS, CodeCertificate, resource, err,
				"%s: the TLS certificate of the %s is not trusted (%s): fix endpoint_url or the CA (AWS_CA_BUNDLE), or set validate_certs: false to skip the check", doing, api.name, certReason(err))
		}
		// Transport errors stay unclassified: waits retry them.
		return fmt.Errorf("%s: cannot reach the %s: %s", doing, api.name, firstLine(err))
	}
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	switch {
	case authCodes[code]:
		return failure.Errorf(lb.AWS, failure.Unauthorized, resource, err,
			"AWS rejected the credentials while %s (%s: %s): check access_key/secret_key/session_token, profile or the AWS_* environment variables", doing, code, msg)
	case code == "AccessDenied" || code == "AccessDeniedException" || code == "UnauthorizedOperation":
		return failure.Errorf(lb.AWS, code, resource, err,
			"the credentials may not do this while %s (%s: %s): allow %s", doing, code, msg, api.perms)
	case code == "TargetGroupNotFound":
		return failure.Errorf(lb.AWS, failure.NotFound, resource, err, "%s: target group not found (%s)", doing, msg)
	case isThrottle(code):
		return failure.Errorf(lb.AWS, failure.Throttled, resource, err,
			"the %s kept throttling requests while %s (%s: %s) after %d attempts: %s", api.name, doing, code, msg, MaxAttempts, api.calm)
	}
	return failure.Errorf(lb.AWS, code, resource, err, "%s error while %s: %s: %s", api.name, doing, code, msg)
}

func isThrottle(code string) bool {
	_, ok := throttleCodes[code]
	return ok
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// CodeCertificate is failure.code when the endpoint's TLS certificate
// fails verification.
const CodeCertificate = "certificate"

// IsCertificateError reports whether err is a failed verification of the
// server's TLS certificate.
func IsCertificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

func certReason(err error) string {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) && cv.Err != nil {
		return cv.Err.Error()
	}
	return firstLine(err)
}
