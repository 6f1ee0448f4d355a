//go:build wasip1

package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/wasmdest/wasmdest/abi"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// client speaks the few S3 REST calls the guest needs through the host's
// http capability. It holds no credentials: the host signs every request
// (AWS Signature V4) with keys the guest never sees.
type client struct {
	// base is the endpoint's scheme and host, e.g. "https://s3.eu-west-1.amazonaws.com".
	scheme, host string
	// basePath is the endpoint's path, "" or e.g. "/s3".
	basePath  string
	bucket    string
	pathStyle bool
}

func newClient(s Spec) (*client, error) {
	endpoint := s.Endpoint
	if endpoint == "" {
		endpoint = "https://s3." + s.Region + ".amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("spec: endpoint %q is not an http or https URL; use e.g. \"https://s3.example.com\" or \"http://127.0.0.1:9000\"", s.Endpoint)
	}
	return &client{scheme: u.Scheme, host: u.Host, basePath: strings.TrimSuffix(u.Path, "/"), bucket: s.Bucket, pathStyle: s.UsePathStyle}, nil
}

// url returns the URL of key in the bucket (key "" is the bucket itself),
// path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key).
func (c *client) url(key string, query string) string {
	var b strings.Builder
	b.WriteString(c.scheme + "://")
	if c.pathStyle {
		b.WriteString(c.host + c.basePath + "/" + escapeKey(c.bucket))
	} else {
		b.WriteString(c.bucket + "." + c.host + c.basePath)
	}
	b.WriteString("/" + escapeKey(key))
	if query != "" {
		b.WriteString("?" + query)
	}
	return b.String()
}

// escapeKey percent-encodes everything in a key but the unreserved
// characters and "/", as Signature V4 canonicalises a path: the URL the
// host signs is then the URL it sends.
func escapeKey(k string) string { return escape(k, true) }

// escapeQuery percent-encodes a query value as Signature V4 does.
func escapeQuery(v string) string { return escape(v, false) }

func escape(k string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~', c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// s3Error is an S3 error response.
type s3Error struct {
	Status  int
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func (e *s3Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// do sends one request with a body held in memory (nil: none) and returns
// the response head and its body. A status other than 2xx is an *s3Error.
func (c *client) do(method, key, query string, header abi.HTTPHeader, body []byte) (*core.HTTPResponse, []byte, error) {
	req := abi.HTTPRequest{Method: method, URL: c.url(key, query), Header: header}
	if len(body) > 0 {
		req.ContentLength = int64(len(body))
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, data, err := core.HTTPDo(req, r, 16<<20)
	if err != nil {
		return nil, nil, err
	}
	if resp.Status/100 != 2 {
		e := &s3Error{Status: resp.Status}
		xml.Unmarshal(data, e)
		return resp, data, e
	}
	return resp, data, nil
}

// put stores body as key in one request. If-None-Match makes it fail
// (412) where the key exists: an object is never replaced, as the file
// destination never replaces a file.
func (c *client) put(key, contentType string, body []byte) error {
	h := abi.HTTPHeader{"Content-Type": {contentType}, "If-None-Match": {"*"}}
	if body == nil {
		body = []byte{}
	}
	_, _, err := c.do("PUT", key, "", h, body)
	return err
}

// createUpload starts a multipart upload of key and returns its id.
func (c *client) createUpload(key, contentType string) (string, error) {
	_, data, err := c.do("POST", key, "uploads=", abi.HTTPHeader{"Content-Type": {contentType}}, nil)
	if err != nil {
		return "", err
	}
	var res struct {
		UploadID string `xml:"UploadId"`
	}
	if err := xml.Unmarshal(data, &res); err != nil || res.UploadID == "" {
		return "", fmt.Errorf("CreateMultipartUpload: no UploadId in the response (%v): %.200s", err, data)
	}
	return res.UploadID, nil
}

// uploadPart sends part number n of an upload and returns its ETag.
func (c *client) uploadPart(key, uploadID string, n int, body []byte) (string, error) {
	q := "partNumber=" + strconv.Itoa(n) + "&uploadId=" + escapeQuery(uploadID)
	resp, _, err := c.do("PUT", key, q, nil, body)
	if err != nil {
		return "", err
	}
	etag := resp.Header.Get("Etag")
	if etag == "" {
		return "", fmt.Errorf("UploadPart %d: the response has no ETag", n)
	}
	return etag, nil
}

type completedPart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

// completeUpload makes the parts of an upload the object key, at once.
func (c *client) completeUpload(key, uploadID string, parts []completedPart) error {
	body, err := xml.Marshal(struct {
		XMLName xml.Name        `xml:"CompleteMultipartUpload"`
		Parts   []completedPart `xml:"Part"`
	}{Parts: parts})
	if err != nil {
		return err
	}
	_, data, err := c.do("POST", key, "uploadId="+escapeQuery(uploadID), abi.HTTPHeader{"Content-Type": {"application/xml"}, "If-None-Match": {"*"}}, body)
	if err != nil {
		return err
	}
	// S3 may answer 200 and put the error in the body.
	if bytes.Contains(data, []byte("<Error>")) {
		e := &s3Error{Status: 200}
		xml.Unmarshal(data, e)
		return e
	}
	return nil
}

// abortUpload discards an upload and the parts it holds.
func (c *client) abortUpload(key, uploadID string) error {
	_, _, err := c.do("DELETE", key, "uploadId="+escapeQuery(uploadID), nil, nil)
	return err
}

// get reads the object key whole.
func (c *client) get(key string, limit int64) ([]byte, error) {
	req := abi.HTTPRequest{Method: "GET", URL: c.url(key, "")}
	resp, data, err := core.HTTPDo(req, nil, limit)
	if err != nil {
		return nil, err
	}
	if resp.Status/100 != 2 {
		e := &s3Error{Status: resp.Status}
		xml.Unmarshal(data, e)
		return nil, e
	}
	return data, nil
}
