package hmac

import (
	"encoding/json"
	"net/http"

	"github.com/tradewind/tradewind/adapters/generic"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string { return generic.SampleTypes() }

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string { return generic.Flow() }

// set puts v at the dot path p of doc, creating objects on the way.
func set(doc map[string]any, p []string, v any) {
	for _, k := range p[:len(p)-1] {
		next, ok := doc[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[k] = next
		}
		doc = next
	}
	doc[p[len(p)-1]] = v
}

// Sample implements webhook.Simulator: a body in the generic format, with its id and
// type at the source's id_path and type_path, signed as the source's settings say.
func (Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	s, err := generic.NewSample(Kind, "evt_", eventType, o)
	if err != nil {
		return webhook.Request{}, err
	}
	c, err := readConfig(src)
	if err != nil {
		return webhook.Request{}, err
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "hmac: a shared secret is needed (--secret …)")
	}
	set(s.Doc, c.idPath, s.ID)
	set(s.Doc, c.typePath, eventType)
	body, err := json.Marshal(s.Doc)
	if err != nil {
		return webhook.Request{}, err
	}
	sig, ts, err := Sign(src, src.Secrets[0], body, s.Now)
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(c.header, sig)
	if ts != "" {
		h.Set(c.timestampHeader, ts)
	}
	return webhook.Request{Header: h, Body: body}, nil
}
