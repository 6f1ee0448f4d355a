//go:build wasip1

package main

import (
	"errors"
	"fmt"

	"github.com/wasmdest/wasmdest/guests/internal/filedest"
	"github.com/wasmdest/wasmdest/internal/filespec"
	"github.com/wasmdest/wasmdest/sdk-guest/core"
)

// maxReadObject bounds an object Read fetches whole to decode (Read is
// for conformance and checks, not bulk export).
const maxReadObject = 1 << 30

// bucket is the S3 guest's filedest.Store: objects in one bucket, through
// the host's http capability (which signs the requests; the guest never
// sees a credential). Package filedest does the rest alike for the file
// guest: names, rotation (without no_rotate every Write call is one
// object; with no_rotate a table's object stays open across Write calls
// and is completed by Close), encoding through the host's codec
// capability, reading back.
//
// An object appears whole or not at all: a small one is one PUT; a larger
// one goes up as a multipart upload, which S3 makes visible only when it
// is completed, and which is aborted on any failure.
type bucket struct {
	spec *Spec
	c    *client
	// spare is a part buffer to reuse: without no_rotate one object is
	// open at a time, and a new part buffer per object would make the
	// guest's memory grow and its collector work for nothing.
	spare []byte
}

// open parses the spec and returns its bucket as the store.
func open(raw []byte) (*filespec.Spec, filedest.Store, error) {
	s, err := ParseSpec(raw)
	if err != nil {
		return nil, nil, err
	}
	c, err := newClient(s)
	if err != nil {
		return nil, nil, err
	}
	return &s.Spec, &bucket{spec: &s, c: c}, nil
}

func (b *bucket) Where(key string) string { return "s3://" + b.spec.Bucket + "/" + key }

func (b *bucket) ReadAll(key string) ([]byte, error) { return b.c.get(key, maxReadObject) }

// object is an object being written: its encoded bytes collect in buf
// until a part is full, and go up in one PUT if it never fills.
type object struct {
	b          *bucket
	key, ctype string
	buf        []byte
	uploadID   string
	parts      []completedPart
}

// Create starts the object key; nothing is sent until a part is full or
// the object is committed.
func (b *bucket) Create(key string) (filedest.File, error) {
	return &object{b: b, key: key, ctype: contentType(b.spec.Format)}, nil
}

// Write takes encoded bytes from the codec: it collects them, and sends
// every full part of a multipart upload, started with the first.
func (o *object) Write(p []byte) (int, error) {
	n := len(p)
	size := int(o.b.spec.PartSize)
	for len(p) > 0 {
		if o.buf == nil {
			o.buf = o.b.partBuffer()
		}
		take := min(size-len(o.buf), len(p))
		o.buf = append(o.buf, p[:take]...)
		p = p[take:]
		if len(o.buf) == size {
			if err := o.sendPart(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// partBuffer returns an empty buffer of a part's capacity.
func (b *bucket) partBuffer() []byte {
	if buf := b.spare; buf != nil {
		b.spare = nil
		return buf[:0]
	}
	return make([]byte, 0, b.spec.PartSize)
}

// release keeps an object's part buffer for the next object.
func (b *bucket) release(o *object) {
	if o.buf != nil && b.spare == nil {
		b.spare = o.buf[:0]
	}
	o.buf = nil
}

// sendPart sends buf as the next part, starting the upload first if need be.
func (o *object) sendPart() error {
	c := o.b.c
	if o.uploadID == "" {
		id, err := c.createUpload(o.key, o.ctype)
		if err != nil {
			return fmt.Errorf("start multipart upload: %w", err)
		}
		o.uploadID = id
		core.Debug("multipart upload started", "key", o.key, "upload_id", id)
	}
	n := len(o.parts) + 1
	if n > MaxParts {
		return fmt.Errorf("the object would need more than %d parts of %d bytes (S3's limit); raise part_size, or lower batch_size so that objects are smaller", MaxParts, o.b.spec.PartSize)
	}
	etag, err := c.uploadPart(o.key, o.uploadID, n, o.buf)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", n, err)
	}
	o.parts = append(o.parts, completedPart{PartNumber: n, ETag: etag})
	o.buf = o.buf[:0]
	return nil
}

// Commit completes the object: one PUT, or the last part and the
// completion of its multipart upload. If-None-Match makes either fail
// where the key exists.
func (o *object) Commit() error {
	var err error
	if o.uploadID == "" {
		err = o.b.c.put(o.key, o.ctype, o.buf)
	} else {
		if len(o.buf) > 0 {
			err = o.sendPart()
		}
		if err == nil {
			err = o.b.c.completeUpload(o.key, o.uploadID, o.parts)
		}
	}
	var se *s3Error
	if errors.As(err, &se) && se.Status == 412 {
		return fmt.Errorf("%w: the object exists already, and the S3 destination never replaces one (write_mode append); %s", err, filedest.ExistsFix(o.b.spec.NoRotate))
	}
	if err != nil {
		return err
	}
	if o.uploadID != "" {
		core.Debug("multipart upload completed", "key", o.key, "upload_id", o.uploadID, "parts", len(o.parts))
	}
	o.b.release(o)
	return nil
}

// Abort gives up the object: its multipart upload, if one was started, is
// aborted, so that nothing of it is left.
func (o *object) Abort() error {
	o.b.release(o)
	if o.uploadID == "" {
		return nil
	}
	id := o.uploadID
	o.uploadID = ""
	if err := o.b.c.abortUpload(o.key, id); err != nil {
		core.Error("abort multipart upload failed", "key", o.key, "upload_id", id, "err", err.Error())
		return fmt.Errorf("aborting its multipart upload failed too (%v): the bucket may hold a pending upload, which a lifecycle rule AbortIncompleteMultipartUpload removes", err)
	}
	core.Debug("multipart upload aborted", "key", o.key, "upload_id", id)
	return nil
}
