package standardwebhooks

import (
	"encoding/json"
	"net/http"

	"github.com/tradewind/tradewind/adapters/generic"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string { return generic.SampleTypes() }

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string { return generic.Flow() }

// Sample implements webhook.Simulator: a body in the generic format. The webhook-id is
// EventID (random when empty), so a repeated EventID is a duplicate delivery.
func (Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	s, err := generic.NewSample(Kind, "msg_", eventType, o)
	if err != nil {
		return webhook.Request{}, err
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "standardwebhooks: a signing secret is needed (--secret whsec_…)")
	}
	key, err := stdwebhooks.DecodeSecret(src.Secrets[0])
	if err != nil {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "standardwebhooks: secrets[0]: %s", domain.ErrorMessage(err))
	}
	s.Doc["type"] = eventType
	body, err := json.Marshal(s.Doc)
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	stdwebhooks.SetHeaders(h, key, s.ID, s.Now.Unix(), body)
	return webhook.Request{Header: h, Body: body}, nil
}
