package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"net/textproto"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// UnsignedPayload is the SigV4 payload hash of a body the host streams and
// so cannot hash before sending.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// forbiddenAlways are header fields a guest may never set: credentials and
// what the transport manages itself.
var forbiddenAlways = map[string]struct{}{
	"Authorization":       {},
	"Proxy-Authorization": {},
	"Cookie":              {},
	"Host":                {},
	"Content-Length":      {},
	"Transfer-Encoding":   {},
	"Connection":          {},
}

// forbiddenSigV4 are the fields the host's SigV4 signer sets.
var forbiddenSigV4 = map[string]struct{}{
	"X-Amz-Date":           {},
	"X-Amz-Security-Token": {},
	"X-Amz-Content-Sha256": {},
}

func canonical(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }

// signer adds a destination's credentials to its requests.
type signer struct {
	auth  Auth
	creds aws.CredentialsProvider // aws_sigv4
	v4    *v4.Signer
	// now is the signing clock (tests replace it to re-sign).
	now func() time.Time
}

// newSigner prepares auth; for aws_sigv4 without keys it loads the AWS
// SDK's default credential chain (environment, shared files, SSO, the
// instance's role), whose credentials are fetched on first use and cached.
func newSigner(ctx context.Context, auth Auth) (*signer, error) {
	s := &signer{auth: auth, now: time.Now}
	if auth.Type != AuthSigV4 {
		return s, nil
	}
	s.v4 = v4.NewSigner(func(o *v4.SignerOptions) {
		// S3 signs the path as sent, not escaped a second time (as the
		// AWS SDK's S3 client does).
		o.DisableURIPathEscaping = auth.Service == "s3"
	})
	if auth.AccessKeyID != "" {
		s.creds = credentials.NewStaticCredentialsProvider(auth.AccessKeyID, auth.SecretAccessKey, auth.SessionToken)
		return s, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(auth.Region))
	if err != nil {
		return nil, fmt.Errorf("aws_sigv4: the AWS default credential chain: %w", err)
	}
	s.creds = cfg.Credentials
	return s, nil
}

// checkHeader refuses header fields the guest may not set.
func (s *signer) checkHeader(h nethttp.Header) error {
	for name := range h {
		c := canonical(name)
		_, bad := forbiddenAlways[c]
		if s.auth.Type == AuthSigV4 {
			_, bad2 := forbiddenSigV4[c]
			bad = bad || bad2
		}
		if s.auth.Type == AuthHeader && c == canonical(s.auth.Name) {
			bad = true
		}
		if bad {
			return fmt.Errorf("header %s is set by the host (credentials, transport): the guest may not set it", c)
		}
	}
	return nil
}

// sign adds the credentials to r, whose body has the SigV4 payload hash
// payloadHash (UnsignedPayload for a streamed body).
func (s *signer) sign(ctx context.Context, r *nethttp.Request, payloadHash string) error {
	switch s.auth.Type {
	case AuthBearer:
		r.Header.Set("Authorization", "Bearer "+s.auth.Token)
	case AuthBasic:
		r.SetBasicAuth(s.auth.Username, s.auth.Password)
	case AuthHeader:
		r.Header.Set(s.auth.Name, s.auth.Value)
	case AuthSigV4:
		creds, err := s.creds.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("aws_sigv4: get credentials: %w", err)
		}
		r.Header.Set("X-Amz-Content-Sha256", payloadHash)
		if err := s.v4.SignHTTP(ctx, creds, r, payloadHash, s.auth.Service, s.auth.Region, s.now().UTC()); err != nil {
			return fmt.Errorf("aws_sigv4: sign: %w", err)
		}
	}
	return nil
}
