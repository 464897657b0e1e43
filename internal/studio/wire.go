package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// captureBody returns a per-call option that stores the raw body of the call's
// successful HTTP response in *dst, so settings can be kept as the service's own JSON
// (see the package doc). Each retry attempt overwrites *dst; the call's result and
// *dst always belong to the same, last, attempt.
func captureBody(dst *[]byte) func(*sagemaker.Options) {
	return func(o *sagemaker.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			// After: innermost in the Deserialize step, so it sees the response
			// before the operation deserializer consumes the body.
			return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("studioCaptureBody",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					if err != nil {
						return out, md, err
					}
					resp, ok := out.RawResponse.(*smithyhttp.Response)
					if !ok || resp.Body == nil {
						return out, md, err
					}
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr != nil {
						return out, md, fmt.Errorf("reading response body: %w", rerr)
					}
					*dst = b
					resp.Body = io.NopCloser(bytes.NewReader(b))
					return out, md, nil
				}), middleware.After)
		})
	}
}

// withMembers returns a per-call option that adds members, as raw JSON, to the
// serialized JSON request body. The input struct carries the identifiers and tags; the
// settings structures go through here unchanged (see the package doc). A member
// already set by the input is replaced.
func withMembers(members map[string]json.RawMessage) func(*sagemaker.Options) {
	return func(o *sagemaker.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Serialize.Add(middleware.SerializeMiddlewareFunc("studioMergeMembers",
				func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
					req, ok := in.Request.(*smithyhttp.Request)
					if !ok {
						return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected transport type %T", in.Request)
					}
					body := map[string]json.RawMessage{}
					if st := req.GetStream(); st != nil {
						b, err := io.ReadAll(st)
						if err != nil {
							return middleware.SerializeOutput{}, middleware.Metadata{}, err
						}
						if len(bytes.TrimSpace(b)) > 0 {
							if err := json.Unmarshal(b, &body); err != nil {
								return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("request body is not a JSON object: %w", err)
							}
						}
					}
					for k, v := range members {
						if isEmptyJSON(v) {
							continue
						}
						body[k] = v
					}
					b, err := json.Marshal(body)
					if err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					r, err := req.SetStream(bytes.NewReader(b))
					if err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					r.ContentLength = int64(len(b))
					in.Request = r
					return next.HandleSerialize(ctx, in)
				}), middleware.After)
		})
	}
}

// isEmptyJSON is true for an absent member: no bytes, null, or {}.
func isEmptyJSON(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("{}"))
}
