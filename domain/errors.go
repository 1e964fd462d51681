// Package domain holds Tradewind's vocabulary: sources and deliveries, normalized
// events, orders, payments and the errors every layer speaks. It imports only the
// standard library; adapters, jobs and cmd import it, never the other way round.
package domain

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the API's error table.
const (
	EINVALID      = "invalid"      // bad input: 400
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials or signature: 401
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // state forbids it: 409
	ETOOLARGE     = "too_large"    // request body over the limit: 413
	ERATELIMITED  = "rate_limited" // slow down: 429
	EUNAVAILABLE  = "unavailable"  // a dependency is down, retry later: 503
	EINTERNAL     = "internal"     // a bug or an unexpected failure: 500
)

// Error is Tradewind's one error type. Code classifies it; Reason, when set, is a
// more specific machine-readable code shown to API clients (e.g. "insufficient_stock");
// Message is written for a person and says what was wrong and how to fix it.
type Error struct {
	Code    string
	Reason  string
	Message string
	// Fields are extra facts for clients, shown beside code and message
	// (e.g. "available" with insufficient_stock).
	Fields map[string]any
	Err    error // the cause, for logs; never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and message that keeps err as its cause.
func WrapError(err error, code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any
// other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorReason returns the Reason of the first *Error in err's chain, or its code.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return ErrorCode(err)
}

// ErrorMessage returns the human message of the first *Error in err's chain and a
// generic text for anything else, so internal details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error; the details are in the server log"
}

// ErrorFields returns the Fields of the first *Error in err's chain.
func ErrorFields(err error) map[string]any {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
