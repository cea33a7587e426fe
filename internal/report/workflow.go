package report

import "fmt"

// Action is a step of the workflow; it is also the Signature.Action
// recorded for it and, prefixed "report.", the audit action.
type Action string

// Workflow actions.
const (
	ActDraft  Action = "drafted"
	ActUpdate Action = "updated"
	ActReview Action = "reviewed"
	ActReopen Action = "reopened"
	ActSign   Action = "signed"
	ActAmend  Action = "amended" // on the signed report: makes its amendment, a new draft
)

// next is the state machine: from a status, what each action leads to.
// An action missing for a status is not allowed there. Amend leaves the
// signed report as it is (its amendment is a new report); signing an
// amendment supersedes the report it amends.
var next = map[Status]map[Action]Status{
	Draft:      {ActUpdate: Draft, ActReview: Reviewed},
	Reviewed:   {ActReopen: Draft, ActSign: Signed},
	Signed:     {ActAmend: Signed},
	Superseded: {},
}

// Next returns the status a report in status from moves to by act, or
// ErrState (ErrImmutable for an update of a signed report).
func Next(from Status, act Action) (Status, error) {
	to, ok := next[from][act]
	switch {
	case ok:
		return to, nil
	case act == ActUpdate && (from == Signed || from == Superseded):
		return from, fmt.Errorf("report is %s: %w", from, ErrImmutable)
	}
	return from, stateErr("cannot %s a %s report", verb(act), from)
}

func verb(a Action) string {
	switch a {
	case ActUpdate:
		return "update"
	case ActReview:
		return "review"
	case ActReopen:
		return "reopen"
	case ActSign:
		return "sign"
	case ActAmend:
		return "amend"
	}
	return string(a)
}

// Statuses lists every status; Actions every action but ActDraft (which
// makes a report rather than moving one).
var (
	Statuses = []Status{Draft, Reviewed, Signed, Superseded}
	Actions  = []Action{ActUpdate, ActReview, ActReopen, ActSign, ActAmend}
)
