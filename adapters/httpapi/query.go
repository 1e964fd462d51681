package httpapi

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/tradewind/tradewind/domain"
)

// Every value a person or a client puts in a path, a query string or a form reaches
// PostgreSQL as text, which cannot hold NUL or invalid UTF-8: such a value would
// fail its query and come back as a 500. The API and the dashboard refuse it up
// front instead, in one place (checkInput), so no handler can forget.

// Bounds on one value, in bytes. Refs, SKUs, ids and filters are far shorter
// than maxURLValue; the longest form field is a conflict's note (2000 characters).
const (
	maxURLValue  = 1 << 10 // a path segment or a query value
	maxFormValue = 8 << 10 // a field of a url-encoded form
)

// textProblem says what is wrong with one value, or "" when nothing is.
func textProblem(v []byte, limit int) string {
	switch {
	case bytes.IndexByte(v, 0) >= 0:
		return "contains a NUL byte (%00); remove it"
	case !utf8.Valid(v):
		return "is not valid UTF-8; percent-encode text as UTF-8"
	case len(v) > limit:
		return fmt.Sprintf("is longer than %d bytes", limit)
	}
	return ""
}

// shortName is a parameter's name as an error message can quote it.
func shortName(k []byte) string {
	if len(k) > 40 {
		k = k[:40]
	}
	return strings.ToValidUTF8(string(k), "?")
}

// inputError returns what is wrong with c's path, query string or form, or nil.
// The path is checked percent-decoded, as handlers read it (param).
func inputError(c *fiber.Ctx) error {
	for _, seg := range strings.Split(c.Path(), "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return domain.Errorf(domain.EINVALID, "the path has a malformed %%-escape in %q; write a literal %% as %%25", shortName([]byte(seg)))
		}
		if p := textProblem([]byte(dec), maxURLValue); p != "" {
			return domain.Errorf(domain.EINVALID, "a path segment %s", p)
		}
	}
	var err error
	visit := func(where string, limit int) func(k, v []byte) {
		return func(k, v []byte) {
			if err != nil {
				return
			}
			if p := textProblem(k, 200); p != "" {
				err = domain.Errorf(domain.EINVALID, "a %s parameter's name %s", where, p)
			} else if p := textProblem(v, limit); p != "" {
				err = domain.Errorf(domain.EINVALID, "%s parameter %q %s", where, shortName(k), p)
			}
		}
	}
	c.Request().URI().QueryArgs().VisitAll(visit("query", maxURLValue))
	if err == nil && bytes.HasPrefix(c.Request().Header.ContentType(), []byte(fiber.MIMEApplicationForm)) {
		c.Request().PostArgs().VisitAll(visit("form", maxFormValue))
	}
	return err
}

// checkInput refuses (400, in the API's error shape) a request whose path, query
// string or form holds NUL, invalid UTF-8 or an over-long value.
func (s *Server) checkInput(c *fiber.Ctx) error {
	if err := inputError(c); err != nil {
		return err
	}
	return c.Next()
}

// param returns the path parameter name percent-decoded ("A%2F1" is "A/1": Fiber
// routes on the raw path, so an encoded slash stays inside its segment) and copied
// out of Fiber's buffers. checkInput has refused malformed escapes.
func param(c *fiber.Ctx, name string) string {
	raw := c.Params(name)
	if v, err := url.PathUnescape(raw); err == nil && v != raw {
		return v // a new string already
	}
	return strings.Clone(raw)
}

// formValue returns a field of a url-encoded or multipart form body, never from the
// query string (where Fiber's FormValue looks first): a form token or an API token
// in a URL ends up in logs, histories and Referer headers.
func formValue(c *fiber.Ctx, name string) string {
	if bytes.HasPrefix(c.Request().Header.ContentType(), []byte(fiber.MIMEMultipartForm)) {
		if f, err := c.MultipartForm(); err == nil && len(f.Value[name]) > 0 {
			return f.Value[name][0]
		}
		return ""
	}
	return string(c.Request().PostArgs().Peek(name))
}

// stringsError returns what is wrong with the strings of a decoded JSON request
// (struct fields, slices and maps of them), or nil: JSON can carry \u0000, which
// PostgreSQL cannot store.
func stringsError(v any) error {
	var walk func(path string, rv reflect.Value) error
	walk = func(path string, rv reflect.Value) error {
		switch rv.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !rv.IsNil() {
				return walk(path, rv.Elem())
			}
		case reflect.String:
			if strings.IndexByte(rv.String(), 0) >= 0 {
				return domain.Errorf(domain.EINVALID, "%s: contains a NUL character (\\u0000); remove it", path)
			}
		case reflect.Struct:
			t := rv.Type()
			for i := range t.NumField() {
				if !t.Field(i).IsExported() {
					continue
				}
				name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
				if name == "" {
					name = t.Field(i).Name
				}
				if err := walk(name, rv.Field(i)); err != nil {
					return err
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range rv.Len() {
				if err := walk(fmt.Sprintf("%s[%d]", path, i), rv.Index(i)); err != nil {
					return err
				}
			}
		case reflect.Map:
			for _, k := range rv.MapKeys() {
				if err := walk(fmt.Sprintf("%s[%v]", path, k), rv.MapIndex(k)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("body", reflect.ValueOf(v))
}

// onlyParams refuses (400) a query string with a parameter the endpoint does not
// take, naming it and the ones it does: a misspelt filter (?stauts=failed) must
// not silently return everything. Every /api/v1 list endpoint calls it first.
func onlyParams(c *fiber.Ctx, valid ...string) error {
	var bad string
	c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
		if bad == "" && !slices.Contains(valid, string(k)) {
			bad = shortName(k)
		}
	})
	if bad == "" {
		return nil
	}
	if len(valid) == 0 {
		return domain.Errorf(domain.EINVALID, "unknown query parameter %q: %s takes none", bad, c.Path())
	}
	return domain.Errorf(domain.EINVALID, "unknown query parameter %q: %s takes %s", bad, c.Path(), strings.Join(valid, ", "))
}
