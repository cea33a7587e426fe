package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// TransactionResult is what the EHR did with a transaction.
type TransactionResult struct {
	Status    int      // HTTP status of the whole transaction
	Locations []string // each entry's response.location (what was created or matched)
	Entries   []EntryResult
}

// EntryResult is one entry of the transaction-response.
type EntryResult struct {
	Status   string // e.g. "201 Created", "200 OK" (a conditional create that matched)
	Location string
}

// DeliveryError is a transaction the EHR did not take.
type DeliveryError struct {
	Status    int  // HTTP status; 0 when there was no answer
	Retryable bool // 5xx, 429, timeout, connection: try again later
	// Outcome is the EHR's OperationOutcome in brief: each issue's
	// severity, code and the elements it names, cut to a bounded length.
	// Its free text (diagnostics, details) is left out: it may quote the
	// bundle's patient data, and this error is logged and kept in the
	// outbox in the clear.
	Outcome string
	Err     error // the transport error, when there was no answer
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	if e.Retryable {
		b.WriteString("the EHR did not take the bundle (will retry): ")
	} else {
		b.WriteString("the EHR refused the bundle: ")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Err != nil {
		if e.Status != 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	if e.Outcome != "" {
		b.WriteString(": ")
		b.WriteString(e.Outcome)
	}
	return b.String()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// ErrNotTransaction: the payload is not a FHIR transaction Bundle.
var ErrNotTransaction = errors.New("not a FHIR transaction Bundle")

// CheckTransaction checks that b is a transaction (or batch) Bundle.
func CheckTransaction(b []byte) error {
	var head struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%w: %v", ErrNotTransaction, err)
	}
	if head.ResourceType != "Bundle" || (head.Type != "transaction" && head.Type != "batch") {
		return fmt.Errorf("%w (resourceType %q, type %q)", ErrNotTransaction, head.ResourceType, head.Type)
	}
	return nil
}

// SendTransaction posts bundle (a transaction Bundle) to the EHR's base.
// A nil error means the EHR applied it. Otherwise the error is a
// *DeliveryError (Retryable for 5xx, 429, 408, timeouts and connection
// errors; not for other 4xx, whose OperationOutcome text it keeps), or
// wraps ErrNotTransaction.
func (c *Client) SendTransaction(ctx context.Context, bundle []byte) (*TransactionResult, error) {
	if err := CheckTransaction(bundle); err != nil {
		return nil, &DeliveryError{Err: err}
	}
	a, err := c.do(ctx, http.MethodPost, c.base(), bundle)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &DeliveryError{Retryable: true, Err: err}
	}
	switch {
	case a.Status >= 200 && a.Status < 300:
		res := &TransactionResult{Status: a.Status}
		var tr transactionResponse
		if err := json.Unmarshal(a.Body, &tr); err == nil {
			for _, e := range tr.Entry {
				if e.Response == nil {
					continue
				}
				res.Entries = append(res.Entries, EntryResult{Status: e.Response.Status, Location: e.Response.Location})
				if e.Response.Location != "" {
					res.Locations = append(res.Locations, e.Response.Location)
				}
			}
		} else if c.Log != nil {
			c.Log.Warn("ehr: transaction accepted, but its response bundle does not parse", "status", a.Status)
		}
		return res, nil
	case a.Status >= 500, a.Status == http.StatusTooManyRequests, a.Status == http.StatusRequestTimeout:
		return nil, &DeliveryError{Status: a.Status, Retryable: true, Outcome: outcomeText(a.Body, false)}
	}
	return nil, &DeliveryError{Status: a.Status, Outcome: outcomeText(a.Body, false)}
}

// transactionResponse is the part of a transaction-response Bundle read.
type transactionResponse struct {
	ResourceType string `json:"resourceType"`
	Entry        []struct {
		Response *struct {
			Status   string `json:"status"`
			Location string `json:"location"`
		} `json:"response"`
	} `json:"entry"`
}

// operationOutcome is the part of an OperationOutcome read.
type operationOutcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Details  *struct {
			Text string `json:"text"`
		} `json:"details"`
		Diagnostics string   `json:"diagnostics"`
		Expression  []string `json:"expression"`
		Location    []string `json:"location"`
	} `json:"issue"`
}

// maxOutcome bounds the OperationOutcome text kept with an error.
const maxOutcome = 1000

// outcomeText renders an OperationOutcome body as one line: each issue's
// severity, code, where, and with withText its free text. A body that is
// not one gives "".
func outcomeText(body []byte, withText bool) string {
	var oo operationOutcome
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return ""
	}
	var parts []string
	for _, is := range oo.Issue {
		s := is.Severity + " " + is.Code
		text := is.Diagnostics
		if !withText {
			text = ""
		} else if is.Details != nil && is.Details.Text != "" {
			if text != "" {
				text = is.Details.Text + " (" + text + ")"
			} else {
				text = is.Details.Text
			}
		}
		if text != "" {
			s += ": " + text
		}
		where := is.Expression
		if len(where) == 0 {
			where = is.Location
		}
		if len(where) > 0 {
			s += " at " + strings.Join(where, ", ")
		}
		parts = append(parts, s)
	}
	return cut(strings.Join(parts, "; "), maxOutcome)
}

// cut makes outside text one bounded line.
func cut(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
