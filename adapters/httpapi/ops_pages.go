package httpapi

import (
	"crypto/hmac"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"golang.org/x/crypto/bcrypt"

	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/web"
)

// The dashboard's pages beyond the first ones (dashboard.go): the queue UI,
// refused requests, and who is signed in (named operators) for the audit trail.

// actorCookie names the person a session belongs to: "<name>.<HMAC of session id
// and name>", so it cannot be moved to another session or edited.
const actorCookie = "tradewind_ops_actor"

// tokenActor is the actor of a sign-in with the API token, and of API calls.
const tokenActor = "api-token"

func (s *Server) mountOps(ops fiber.Router, auth fiber.Handler, form []fiber.Handler) {
	ops.Get("/rejections", auth, s.opsRejections)
	ops.Get("/audit", auth, s.opsAudit)
	if s.p.Queues != nil {
		queues := adaptor.HTTPHandler(s.p.Queues)
		ops.All("/queues/*", auth, func(c *fiber.Ctx) error {
			if c.Path() == "/ops/queues" { // routing is not strict: "/queues/*" matches it too
				return c.Redirect("/ops/queues/", http.StatusSeeOther)
			}
			if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
				// asynqmon's own API changes tasks: a cross-site request never
				// carries the session (SameSite=Strict), and a same-site one must
				// come from the UI itself.
				if o := c.Get(fiber.HeaderOrigin); o != "" && o != c.BaseURL() {
					return s.render(c, http.StatusForbidden, "message", web.Page{Title: "Queues",
						Error: "This request to the queue UI came from another site and was refused."})
				}
			}
			// asynqmon is a script application: its pages need scripts and
			// inline styles of their own, from this origin only.
			c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
			return queues(c)
		})
	}
}

// actor returns who is signed in: an operator's name, or tokenActor.
func (s *Server) actor(c *fiber.Ctx) string {
	id, _ := c.Locals(localSessionID).(string)
	v := c.Cookies(actorCookie)
	i := strings.LastIndexByte(v, '.')
	if id == "" || i <= 0 {
		return tokenActor
	}
	name, sig := v[:i], v[i+1:]
	if n, err := url.QueryUnescape(name); err == nil && hmac.Equal([]byte(sig), []byte(s.sess.mac("actor", id+"\x00"+n))) {
		return n
	}
	return tokenActor
}

// setActor records on the browser who signed in to session id.
func (s *Server) setActor(c *fiber.Ctx, id, name string, exp time.Time) {
	c.Cookie(&fiber.Cookie{Name: actorCookie, Value: url.QueryEscape(name) + "." + s.sess.mac("actor", id+"\x00"+name), Path: "/ops",
		Expires: exp, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
}

// checkOperator reports whether name and password are an operator's. Wrong ones
// count against the client's address like wrong tokens do. An unknown name costs
// a bcrypt comparison too, so timing does not tell which names exist.
func (s *Server) checkOperator(c *fiber.Ctx, name, password string) (bool, error) {
	hash := dummyHash
	for _, o := range s.p.Operators {
		if o.Name == name {
			hash = []byte(o.PasswordHash)
		}
	}
	right := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && string(hash) != string(dummyHash)
	ok, wait := s.guesses.check(s.clients.key(c), right, s.p.Now())
	if !ok {
		c.Set(fiber.HeaderRetryAfter, retryAfter(wait))
		return false, domain.Errorf(domain.ERATELIMITED, "too many wrong sign-ins from your address; wait %s seconds", retryAfter(wait))
	}
	return right, nil
}

// dummyHash is compared against when a name is unknown (its password is random).
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte(strconv.FormatInt(time.Now().UnixNano(), 36)), bcrypt.DefaultCost)

// audit records an action a person took; a failure to record is logged, not
// answered: the action itself is done.
func (s *Server) audit(c *fiber.Ctx, actor, action, target, detail string) {
	err := s.ops().RecordAction(c.UserContext(), domain.AuditEntry{At: s.p.Now().UTC(), Actor: actor, Action: action, Target: target, Detail: detail})
	if err != nil {
		s.p.Logger.Warn("could not record an action in the audit trail", "action", action, "target", target, "error", err.Error())
	}
}

type rejectionsPage struct {
	Source, Cause string
	Causes        []string
	Rejections    []domain.Rejection
	Next          int64
}

var rejectionCauses = []string{domain.CauseVerificationFailed, domain.CauseUnparsable, domain.CausePayloadTooLarge,
	domain.CauseUnknownSource, domain.CauseRateLimited, domain.CauseOverloaded, domain.CauseNotConfirmed}

// opsRejections lists refused requests, newest first, by source and cause.
func (s *Server) opsRejections(c *fiber.Ctx) error {
	b := rejectionsPage{Source: strings.TrimSpace(c.Query("source")), Cause: c.Query("cause"), Causes: rejectionCauses}
	page := web.Page{Title: "Rejected requests", Nav: "rejections", Body: &b}
	f := domain.RejectionFilter{Source: b.Source, Cause: b.Cause, Limit: pageSize}
	var err error
	if v := c.Query("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 1 {
			err = domain.Errorf(domain.EINVALID, "before: %q is not a rejection id", v)
		}
	}
	if err == nil {
		b.Rejections, err = s.ops().RejectionList(c.UserContext(), f)
	}
	if err != nil {
		st, msg := s.failure(c, err)
		page.Error = msg
		return s.render(c, st, "rejections", page)
	}
	if len(b.Rejections) == pageSize {
		b.Next = b.Rejections[len(b.Rejections)-1].ID
	}
	return s.render(c, http.StatusOK, "rejections", page)
}

// opsAudit lists the newest actions people took.
func (s *Server) opsAudit(c *fiber.Ctx) error {
	list, err := s.ops().Actions(c.UserContext(), 200)
	page := web.Page{Title: "Audit trail", Nav: "audit", Body: list}
	if err != nil {
		st, msg := s.failure(c, err)
		page.Error = msg
		return s.render(c, st, "audit", page)
	}
	return s.render(c, http.StatusOK, "audit", page)
}

// orderSearch finds the orders a search names (ref, email or payment id); the
// page shows one at once and a choice of several.
func (s *Server) orderSearch(c *fiber.Ctx, q string) (string, []string, error) {
	if s.p.Ops == nil {
		return q, nil, nil
	}
	refs, err := s.ops().FindOrders(c.UserContext(), q, 20)
	if err != nil {
		return "", nil, err
	}
	if len(refs) == 1 {
		return refs[0], nil, nil
	}
	if len(refs) == 0 {
		return q, nil, nil // perhaps only requests name it: the page says so
	}
	return "", refs, nil
}

// moneyLine is an amount as people read it: major units and the currency.
func moneyLine(amount int64, currency string) string {
	if currency == "" {
		return fmt.Sprint(amount, " (minor units, currency unknown)")
	}
	return domain.FormatMinorUnits(amount, currency) + " " + currency
}

// maxReplayMatching bounds one "Replay all matching": a larger set is replayed
// in several presses (or with tradewind replay).
const maxReplayMatching = 1000

// opsReplayMatching replays every webhook the list's filters match that is not
// applied, once the person ticked the confirmation (no script: the form's
// required checkbox, checked again here).
func (s *Server) opsReplayMatching(c *fiber.Ctx) error {
	get := func(k string) string { return strings.Clone(formValue(c, k)) }
	f, err := webhookFilter(get("source"), get("status"), 500, "")
	if err == nil {
		err = webhookMore(get, &f)
	}
	if err == nil && get("confirm") != "yes" {
		err = domain.Errorf(domain.EINVALID, "tick the confirmation box to replay every matching webhook")
	}
	if err != nil {
		st, msg := s.failure(c, err)
		return s.render(c, st, "message", web.Page{Title: "Replay all matching", Nav: "webhooks", Error: "Nothing was replayed: " + msg + "."})
	}
	n := 0
	for n < maxReplayMatching {
		list, err := s.p.Webhooks.List(c.UserContext(), f)
		if err != nil {
			st, msg := s.failure(c, err)
			return s.render(c, st, "message", web.Page{Title: "Replay all matching", Nav: "webhooks",
				Error: fmt.Sprintf("Stopped after %d replays: %s.", n, msg)})
		}
		for _, e := range list {
			if e.Status == domain.InboxApplied {
				continue
			}
			if _, err := s.replay(c.UserContext(), e.ID); err == nil {
				n++
			}
		}
		if len(list) < f.Limit {
			break
		}
		f.BeforeID = list[len(list)-1].ID
	}
	s.audit(c, s.actor(c), "replay", "matching webhooks", fmt.Sprintf("%d replayed; source=%q status=%q type=%q event_id=%q since=%q until=%q",
		n, f.Source, f.Status, f.EventType, f.EventID, get("since"), get("until")))
	return c.Redirect(fmt.Sprintf("/ops/webhooks?source=%s&status=%s&replayed=%d", url.QueryEscape(f.Source), url.QueryEscape(f.Status), n), http.StatusSeeOther)
}

// redactedHeaders shows a stored request's headers with every credential-like
// value cut to its first characters: enough to tell two apart, not to reuse.
func redactedHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		secret := false
		for _, w := range []string{"signature", "authorization", "token", "secret", "hmac", "key", "cookie", "password", "auth"} {
			if strings.Contains(lk, w) {
				secret = true
			}
		}
		for _, v := range vs {
			if secret && len(v) > 6 {
				v = v[:6] + "… (redacted)"
			} else if secret {
				v = "(redacted)"
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}
