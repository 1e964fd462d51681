// Package web holds the ops dashboard's HTML templates and stylesheet, embedded in
// the binary. It renders; the handlers that fill the pages live in adapters/httpapi.
// html/template escapes every value for its context, so nothing a webhook carries
// (event ids, headers, bodies) can become markup.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"
)

//go:embed templates/*.html
var templates embed.FS

// CSS is the dashboard's stylesheet, served at /ops/static/ops.css.
//
//go:embed static/ops.css
var CSS []byte

// Page is what every page shows around its own content.
type Page struct {
	Title  string
	Nav    string // which menu entry is current: overview, webhooks, conflicts, orders, inventory
	CSRF   string // the form token for POSTs; empty when signed out
	Error  string // what went wrong and how to fix it
	Notice string // what just happened
	Body   any    // the page's own data
	// Version is the build's version, in every page's footer; Actor who is signed in.
	Version string
	Actor   string
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"timep": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format(time.RFC3339)
	},
	// headerNames returns a header map's names, sorted, so pages are stable.
	"headerNames": func(h map[string][]string) []string {
		names := make([]string, 0, len(h))
		for k := range h {
			names = append(names, k)
		}
		sort.Strings(names)
		return names
	},
}

var pages = parse("login", "overview", "webhooks", "webhook", "conflicts", "order", "inventory", "message", "reconciliations", "rejections", "audit",
	"destinations", "deliveries", "delivery")

func parse(names ...string) map[string]*template.Template {
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New(n).Funcs(funcs).ParseFS(templates, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

// Render writes the named page. It renders into a buffer first, so a template
// error never leaves half a page behind.
func Render(w io.Writer, name string, p Page) error {
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}
