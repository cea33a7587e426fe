// Package azureblob is the lake's Azure Blob Storage backend (ADLS Gen2
// accounts serve the same blob API): each lake blob is a block blob in one
// container. Parts are staged blocks, Commit is a block-list commit that
// fails if the blob exists, tiers are Azure's access tiers. The backend
// only ever sees ciphertext; encryption is the lake's.
//
// It is tested against Azurite (see scripts/services/azurite.sh).
package azureblob

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/clinomics/clinomics/internal/lake"
)

// MaxParts is the most parts a blob can have: Azure's limit on the blocks
// of a block blob.
const MaxParts = 50000

// Options configure New. Give either ConnectionString, or AccountURL with
// an Entra ID credential.
type Options struct {
	// ConnectionString is a storage connection string (account key or
	// SAS; Azurite's has a BlobEndpoint). It is a secret: it never
	// appears in errors, logs or Describe.
	ConnectionString string
	// AccountURL is the blob endpoint, https://ACCOUNT.blob.core.windows.net,
	// used when ConnectionString is empty.
	AccountURL string
	// Credential authenticates to AccountURL; nil means
	// azidentity.NewDefaultAzureCredential (environment, workload
	// identity, managed identity, Azure CLI).
	Credential azcore.TokenCredential
	// Container holds the blobs; New creates it if it is missing.
	Container string
	// Retry bounds the retries of every request. Zero fields take
	// DefaultRetry's values; see policy.RetryOptions for their meaning
	// (MaxRetries < 0: a single try).
	Retry policy.RetryOptions
}

// DefaultRetry is used for the zero fields of Options.Retry: a failed
// request (connection error, timeout, HTTP 408, 429, 500, 502, 503, 504)
// is tried 5 times in all, with exponential backoff from 1 s up to 30 s
// between tries, each try limited to 2 minutes (a 4 MiB part at 300 kbit/s).
var DefaultRetry = policy.RetryOptions{
	MaxRetries:    4,
	TryTimeout:    2 * time.Minute,
	RetryDelay:    time.Second,
	MaxRetryDelay: 30 * time.Second,
}

// Backend stores lake blobs as block blobs in one container.
type Backend struct {
	c     *container.Client
	retry policy.RetryOptions
	url   string // the container's, without any SAS
}

var _ lake.Backend = (*Backend)(nil)

// New connects to the container, creating it if it is missing. It fails
// (after retries) if the service cannot be reached or refuses access.
func New(ctx context.Context, o Options) (*Backend, error) {
	if o.Container == "" {
		return nil, errors.New("azureblob: no container given")
	}
	retry := o.Retry
	if retry.MaxRetries == 0 {
		retry.MaxRetries = DefaultRetry.MaxRetries
	}
	if retry.TryTimeout == 0 {
		retry.TryTimeout = DefaultRetry.TryTimeout
	}
	if retry.RetryDelay == 0 {
		retry.RetryDelay = DefaultRetry.RetryDelay
	}
	if retry.MaxRetryDelay == 0 {
		retry.MaxRetryDelay = DefaultRetry.MaxRetryDelay
	}
	copts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry:            retry,
		PerRetryPolicies: []policy.Policy{countTries{}},
		Telemetry:        policy.TelemetryOptions{ApplicationID: "clinomics"},
	}}
	var c *container.Client
	var err error
	switch {
	case o.ConnectionString != "":
		c, err = container.NewClientFromConnectionString(o.ConnectionString, o.Container, copts)
		if err != nil {
			// Not wrapped: never echo any part of the string.
			return nil, errors.New("azureblob: the connection string is malformed")
		}
	case o.AccountURL != "":
		u, perr := url.Parse(o.AccountURL)
		if perr != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
			return nil, errors.New("azureblob: account URL must be https://ACCOUNT.blob.core.windows.net, without a query")
		}
		cred := o.Credential
		if cred == nil {
			if cred, err = azidentity.NewDefaultAzureCredential(nil); err != nil {
				return nil, fmt.Errorf("azureblob: Entra ID credential: %w", err)
			}
		}
		c, err = container.NewClient(strings.TrimSuffix(o.AccountURL, "/")+"/"+url.PathEscape(o.Container), cred, copts)
		if err != nil {
			return nil, fmt.Errorf("azureblob: %w", err)
		}
	default:
		return nil, errors.New("azureblob: give a connection string or an account URL")
	}
	b := &Backend{c: c, retry: retry, url: withoutQuery(c.URL())}
	if err := b.ensureContainer(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// withoutQuery drops a URL's query, where a SAS token would be.
func withoutQuery(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}

func (b *Backend) ensureContainer(ctx context.Context) error {
	var tries atomic.Int32
	cctx := context.WithValue(ctx, triesKey{}, &tries)
	_, err := b.c.GetProperties(cctx, nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		_, err = b.c.Create(cctx, nil)
		if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			err = nil // created meanwhile by someone else
		}
	}
	if err != nil {
		return b.fail(ctx, "open container", b.url, int(tries.Load()), err)
	}
	return nil
}

// Describe implements lake.Backend: the container's URL, without any SAS.
func (b *Backend) Describe() string { return "azure blob " + b.url }

// checkName adds Azure's rules to the lake's: no "." segment (a URL path
// would lose it) and no trailing "." or "/".
func checkName(name string) error {
	if err := lake.CheckBlobName(name); err != nil {
		return err
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, "/") || name == "." ||
		strings.HasPrefix(name, "./") || strings.Contains(name, "/./") {
		return fmt.Errorf("lake: bad blob name %q for Azure", name)
	}
	return nil
}

// blockID is part idx's block id: base64 of a fixed-width decimal, as
// Azure requires all block ids of a blob to have the same length.
func blockID(idx int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "part-%06d", idx))
}

// WritePart implements lake.Backend: a staged (uncommitted) block, checked
// by the service against its MD5. partSize is not needed: the block list
// gives the order.
func (b *Backend) WritePart(ctx context.Context, name string, idx int, partSize int64, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	if idx < 0 || idx >= MaxParts {
		return fmt.Errorf("azureblob: write %s: part %d: a block blob has at most %d parts", name, idx, MaxParts)
	}
	sum := md5.Sum(data)
	return b.do(ctx, fmt.Sprintf("write part %d of", idx), name, func(ctx context.Context) error {
		_, err := b.c.NewBlockBlobClient(name).StageBlock(ctx, blockID(idx), streaming.NopCloser(bytes.NewReader(data)),
			&blockblob.StageBlockOptions{TransactionalValidation: blob.TransferValidationTypeMD5(sum[:])})
		return err
	})
}

// commitKey is the metadata entry holding a random token per Commit call,
// so a commit retried after a lost response recognises its own blob.
const commitKey = "clinomicscommit"

// Commit implements lake.Backend: one block-list commit of parts
// 0..parts-1, atomic in Azure, with If-None-Match: * so an existing blob
// is never replaced. Staged blocks not in the list are discarded by it.
func (b *Backend) Commit(ctx context.Context, name string, parts int) error {
	if err := checkName(name); err != nil {
		return err
	}
	if parts < 0 || parts > MaxParts {
		return fmt.Errorf("azureblob: commit %s: %d parts: a block blob has at most %d", name, parts, MaxParts)
	}
	ids := make([]string, parts)
	for i := range ids {
		ids[i] = blockID(i)
	}
	token := make([]byte, 16)
	rand.Read(token)
	tok := hex.EncodeToString(token)
	bb := b.c.NewBlockBlobClient(name)
	var tries atomic.Int32
	cctx := context.WithValue(ctx, triesKey{}, &tries)
	_, err := bb.CommitBlockList(cctx, ids, &blockblob.CommitBlockListOptions{
		Metadata: map[string]*string{commitKey: &tok},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{
			IfNoneMatch: to.Ptr(azcore.ETagAny),
		}},
	})
	exists := bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet)
	if exists && tries.Load() > 1 {
		// An earlier try may have committed and lost its response.
		if p, perr := bb.GetProperties(ctx, nil); perr == nil && metadata(p.Metadata, commitKey) == tok {
			return nil
		}
	}
	switch {
	case err == nil:
		return nil
	case exists:
		return fmt.Errorf("azureblob: commit %s: blob exists", name)
	case bloberror.HasCode(err, bloberror.InvalidBlockList):
		return fmt.Errorf("azureblob: commit %s: not all of its %d parts were written (%s)", name, parts, bloberror.InvalidBlockList)
	}
	return b.fail(ctx, "commit", name, int(tries.Load()), err)
}

func metadata(m map[string]*string, key string) string {
	for k, v := range m {
		if strings.EqualFold(k, key) && v != nil {
			return *v
		}
	}
	return ""
}

// Abort implements lake.Backend, as far as Azure allows. Blocks staged for
// a blob that was never committed cannot be deleted by any request: they
// are invisible (not listed, not readable, no blob exists under the name)
// and the service discards them 7 days after the last one was staged; a
// later Commit under the same name discards those it does not list. So
// Abort checks the name and makes no request. (Committing an empty block
// list and deleting the result would discard them at once, but would make
// an empty blob visible meanwhile, and leave it behind after a crash.)
func (b *Backend) Abort(ctx context.Context, name string) error {
	return checkName(name)
}

// ReadRange implements lake.Backend: a ranged download, resumed from where
// it stopped if the connection breaks mid-body. A blob in the archive tier
// is lake.ErrArchived.
func (b *Backend) ReadRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("azureblob: read %s: negative offset %d", name, off)
	}
	if length == 0 {
		// Azure reads a zero count as "to the end"; check the range here.
		size, err := b.Size(ctx, name)
		if err != nil {
			return nil, err
		}
		if off > size {
			return nil, fmt.Errorf("azureblob: read %s: offset %d beyond size %d", name, off, size)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	count := max(length, 0) // 0: to the end
	var resp blob.DownloadStreamResponse
	err := b.do(ctx, "read", name, func(ctx context.Context) error {
		var err error
		resp, err = b.c.NewBlobClient(name).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: off, Count: count}})
		return err
	})
	if bloberror.HasCode(err, bloberror.InvalidRange) {
		// The offset is at or past the end: empty if reading to the end
		// from exactly the end, else an error.
		size, serr := b.Size(ctx, name)
		if serr != nil {
			return nil, serr
		}
		if length < 0 && off == size {
			return io.NopCloser(strings.NewReader("")), nil
		}
		if length < 0 {
			return nil, fmt.Errorf("azureblob: read %s: offset %d beyond size %d", name, off, size)
		}
		return nil, fmt.Errorf("azureblob: read %s: range %d+%d beyond size %d", name, off, length, size)
	}
	if err != nil {
		return nil, err
	}
	// Azure shortens a range that runs past the end; the contract says error.
	if length > 0 && (resp.ContentLength == nil || *resp.ContentLength != length) {
		resp.Body.Close()
		got := int64(-1)
		if resp.ContentLength != nil {
			got = *resp.ContentLength
		}
		return nil, fmt.Errorf("azureblob: read %s: range %d+%d beyond the end (%d bytes available)", name, off, length, got)
	}
	rr := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: b.retry.MaxRetries})
	return &body{rr: rr, b: b, ctx: ctx, name: name}, nil
}

// body names the blob in errors met while reading the download.
type body struct {
	rr   *blob.RetryReader
	b    *Backend
	ctx  context.Context
	name string
}

func (r *body) Read(p []byte) (int, error) {
	n, err := r.rr.Read(p)
	if err != nil && err != io.EOF {
		err = r.b.fail(r.ctx, "read", r.name, 0, err)
	}
	return n, err
}

func (r *body) Close() error { return r.rr.Close() }

// Size implements lake.Backend. It works in every tier, archive included.
func (b *Backend) Size(ctx context.Context, name string) (int64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	var n int64
	err := b.do(ctx, "size of", name, func(ctx context.Context) error {
		p, err := b.c.NewBlobClient(name).GetProperties(ctx, nil)
		if err == nil {
			if p.ContentLength == nil {
				return errors.New("no Content-Length in the response")
			}
			n = *p.ContentLength
		}
		return err
	})
	return n, err
}

// Delete implements lake.Backend. With soft delete enabled on the account,
// Azure keeps the deleted blob for the account's retention period.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return b.do(ctx, "delete", name, func(ctx context.Context) error {
		_, err := b.c.NewBlobClient(name).Delete(ctx, nil)
		return err
	})
}

// List implements lake.Backend: committed blobs only (staged blocks are
// not blobs), sorted.
func (b *Backend) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	var tries atomic.Int32
	cctx := context.WithValue(ctx, triesKey{}, &tries)
	var opts container.ListBlobsFlatOptions
	if prefix != "" {
		opts.Prefix = &prefix
	}
	pager := b.c.NewListBlobsFlatPager(&opts)
	for pager.More() {
		tries.Store(0)
		page, err := pager.NextPage(cctx)
		if err != nil {
			return nil, b.fail(ctx, "list", prefix+"*", int(tries.Load()), err)
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name != nil {
				out = append(out, *it.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// SetTier implements lake.Backend with Azure's access tiers. Archiving is
// immediate; moving an archived blob to hot or cool starts a rehydration
// (standard priority, up to 15 hours) during which reads are lake.ErrArchived.
func (b *Backend) SetTier(ctx context.Context, name string, t lake.Tier) error {
	if err := checkName(name); err != nil {
		return err
	}
	var at blob.AccessTier
	switch t {
	case lake.TierHot:
		at = blob.AccessTierHot
	case lake.TierCool:
		at = blob.AccessTierCool
	case lake.TierArchive:
		at = blob.AccessTierArchive
	default:
		return fmt.Errorf("azureblob: unknown tier %q", t)
	}
	return b.do(ctx, "set tier "+string(t)+" of", name, func(ctx context.Context) error {
		_, err := b.c.NewBlobClient(name).SetTier(ctx, at, nil)
		return err
	})
}

// triesKey holds, in a request's context, an *atomic.Int32 that
// countTries increments on every try, so errors can say how many there were.
type triesKey struct{}

type countTries struct{}

func (countTries) Do(req *policy.Request) (*http.Response, error) {
	if n, ok := req.Raw().Context().Value(triesKey{}).(*atomic.Int32); ok {
		n.Add(1)
	}
	return req.Next()
}

// do runs one request for op on blob name and turns its error into ours.
func (b *Backend) do(ctx context.Context, op, name string, f func(context.Context) error) error {
	var tries atomic.Int32
	err := f(context.WithValue(ctx, triesKey{}, &tries))
	if err == nil {
		return nil
	}
	return b.fail(ctx, op, name, int(tries.Load()), err)
}

// fail describes err from op on blob name: lake.ErrBlobNotFound and
// lake.ErrArchived where they apply, else an *Error.
func (b *Backend) fail(ctx context.Context, op, name string, tries int, err error) error {
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound):
		return fmt.Errorf("azureblob: %s %s: %w", op, name, lake.ErrBlobNotFound)
	case bloberror.HasCode(err, bloberror.BlobArchived, bloberror.BlobBeingRehydrated):
		return fmt.Errorf("azureblob: %s %s: %w", op, name, lake.ErrArchived)
	}
	e := &Error{Op: op, Blob: name, Tries: tries, Err: err}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		e.TryTimeout = b.retry.TryTimeout
	}
	return e
}

// Error is a failed request after its retries. Its message names the
// operation, the blob and the cause, never the request's URL (which may
// carry a SAS token) or the response body.
type Error struct {
	Op, Blob   string
	Tries      int           // requests made, retries included (0: not counted)
	TryTimeout time.Duration // set when the last try ran out of time
	Err        error
}

func (e *Error) Error() string {
	var msg strings.Builder
	fmt.Fprintf(&msg, "azureblob: %s %s: ", e.Op, e.Blob)
	var re *azcore.ResponseError
	var ue *url.Error
	switch {
	case errors.As(e.Err, &re):
		fmt.Fprintf(&msg, "HTTP %d %s", re.StatusCode, re.ErrorCode)
	case e.TryTimeout > 0:
		fmt.Fprintf(&msg, "no answer within the per-try timeout of %s", e.TryTimeout)
	case errors.As(e.Err, &ue):
		msg.WriteString(ue.Err.Error())
	default:
		msg.WriteString(e.Err.Error())
	}
	if e.Tries > 1 {
		fmt.Fprintf(&msg, " (gave up after %d tries)", e.Tries)
	}
	return msg.String()
}

func (e *Error) Unwrap() error { return e.Err }
