package adyen

import (
	"encoding/json"
	"net/http"

	"github.com/tradewind/tradewind/adapters/webhook"
)

// Batch joins simulated deliveries (as Sample builds them) into one delivery holding
// all their notification items, in order, as Adyen batches notifications. Each item
// keeps its own hmacSignature, so the batch verifies item by item as Adyen's would.
// `tradewind simulate adyen --batch` sends a flow this way.
func Batch(reqs []webhook.Request) (webhook.Request, error) {
	if len(reqs) == 0 {
		return webhook.Request{}, webhook.Invalid("adyen: a batch needs at least one notification")
	}
	var out struct {
		Live              string            `json:"live"`
		NotificationItems []json.RawMessage `json:"notificationItems"`
	}
	for i, r := range reqs {
		var b struct {
			Live              string            `json:"live"`
			NotificationItems []json.RawMessage `json:"notificationItems"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil || len(b.NotificationItems) == 0 {
			return webhook.Request{}, webhook.Invalid("adyen: delivery %d is not an Adyen notification with items", i)
		}
		if i == 0 {
			out.Live = b.Live
		}
		out.NotificationItems = append(out.NotificationItems, b.NotificationItems...)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return webhook.Request{Header: h, Body: body}, nil
}
