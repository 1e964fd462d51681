package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns the path of a Chromium (or Chrome) binary. Outside CI a
// machine without one skips the browser test; in CI (CI set) it must run:
// scripts/deps.sh installs Debian's chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH, and CI must run the browser test: install it (scripts/deps.sh chromium, or apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH (scripts/deps.sh chromium installs it); the browser test runs in CI")
	return ""
}

// artifacts is where the browser test keeps its screenshots: $TRADEWIND_ARTIFACTS
// (kept after the run), else a temporary folder.
func artifacts(t *testing.T) string {
	dir := os.Getenv("TRADEWIND_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// An ops person in a real (headless) browser: signs in, finds a webhook by the
// order it names, opens it, replays it, resolves a conflict, retries a dead
// delivery from its page, opens the queue UI and signs out. A screenshot of each step is kept.
func TestBrowserOpsWalkthrough(t *testing.T) {
	t.Parallel()
	chromium := findChromium(t)
	shots := artifacts(t)
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true}) // no worker: the webhook stays to be replayed
	e.send(m, delivery{testSource, "payment_intent.succeeded", webhookOptions("9901", 1250)})
	if _, err := e.db.Exec(`INSERT INTO conflicts (kind, order_ref, state, detail) VALUES ('amount_mismatch', '9901', 'open', 'paid 12.50 USD of 10.00 USD')`); err != nil {
		t.Fatal(err)
	}
	// A delivery to a CRM that ran out of attempts, to retry from its page.
	if _, err := e.db.Exec(`WITH d AS (
		INSERT INTO deliveries (destination, event_type, event_key, order_ref, webhook_id, status, attempts, last_status_code, last_error, created_at, updated_at)
		VALUES ('acme-crm', 'order.paid', 'order.paid/9901/1', '9901', 'msg_browser_9901', 'dead', 1, 500, 'HTTP 500', now(), now()) RETURNING id)
		INSERT INTO delivery_attempts (delivery_id, n, at, status_code, latency_ms, error) SELECT id, 1, now(), 500, 42, 'HTTP 500' FROM d`); err != nil {
		t.Fatal(err)
	}
	base := "http://" + m.Addr()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	step := 0
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			step++
			buf, err := chromedp.FullScreenshot(100)(ctx, tg) // quality 100: PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name)), buf, 0o644)
		})
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v\npage:\n%s", what, err, html)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}

	run("sign in",
		chromedp.Navigate(base+"/ops/"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		shot("login"),
		chromedp.SendKeys(chromedp.CSS(`#token`), testToken),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ops/webhooks"]`)),
		shot("overview"))

	run("find the webhook by order ref",
		chromedp.Navigate(base+"/ops/orders"),
		chromedp.WaitVisible(chromedp.CSS(`#q`)),
		chromedp.SendKeys(chromedp.CSS(`#q`), "9901"),
		chromedp.Click(chromedp.CSS(`main form.filters button`)),
		chromedp.WaitVisible(chromedp.CSS(`#requests a[href^="/ops/webhooks/"]`)),
		shot("order-requests"),
		chromedp.Click(chromedp.CSS(`#requests a[href^="/ops/webhooks/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/replay"] button`)),
		shot("webhook"))
	if body := text(`main`); !strings.Contains(body, "pi_sim_9901") || strings.Contains(body, newSecret) {
		t.Errorf("webhook page lacks its body or shows a secret:\n%s", body)
	}

	run("replay it",
		chromedp.Click(chromedp.CSS(`form[action$="/replay"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("replayed"))
	if n := text(`.notice`); !strings.Contains(n, "Replay queued") {
		t.Errorf("after replay the notice says %q", n)
	}

	run("resolve the conflict",
		chromedp.Navigate(base+"/ops/conflicts"),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=note]`)),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=note]`), "refunded the 2.50 USD difference"),
		shot("conflict"),
		chromedp.Click(chromedp.CSS(`form[action$="/resolve"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("resolved"))
	if n := text(`.notice`); !strings.Contains(n, "resolved") {
		t.Errorf("after resolving the notice says %q", n)
	}

	run("open the dead deliveries and retry one",
		chromedp.Navigate(base+"/ops/deliveries?status=dead"),
		chromedp.WaitVisible(chromedp.CSS(`main table a[href^="/ops/deliveries/"]`)),
		shot("deliveries"),
		chromedp.Click(chromedp.CSS(`main table a[href^="/ops/deliveries/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/retry"] button`)),
		shot("delivery"),
		chromedp.Click(chromedp.CSS(`form[action$="/retry"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		shot("delivery-retried"))
	if n := text(`.notice`); !strings.Contains(n, "Queued again") {
		t.Errorf("after retrying the delivery the notice says %q", n)
	}
	if body := text(`main`); !strings.Contains(body, "pending") {
		t.Errorf("the retried delivery is not pending:\n%s", body)
	}

	run("open the queues",
		chromedp.Navigate(base+"/ops/queues/"),
		chromedp.WaitVisible(chromedp.CSS(`#root > *`)), // asynqmon's application rendered
		shot("queues"))

	run("sign out",
		chromedp.Navigate(base+"/ops/"),
		chromedp.WaitVisible(chromedp.CSS(`header form button`)),
		chromedp.Click(chromedp.CSS(`header form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		shot("signed-out"),
		chromedp.Navigate(base+"/ops/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`#token`))) // signed out: back to the login
}
