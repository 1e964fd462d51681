package bigcommerce

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/stdwebhooks"
	"github.com/tradewind/tradewind/domain"
)

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string {
	return []string{ScopeOrderCreated, ScopeOrderStatusUpdated, ScopeOrderUpdated, ScopeSKUInventoryUpdated}
}

// Flow implements webhook.Simulator: one order's life.
func (Provider) Flow() []string {
	return []string{ScopeOrderCreated, ScopeOrderStatusUpdated, ScopeOrderUpdated}
}

// Sample implements webhook.Simulator. It builds the thin payload BigCommerce sends; the
// order or variant it names must exist in the store API the source points at before the
// worker can complete it. The payload hash is the SHA-1 of EventID (random when empty),
// so a repeated EventID is a duplicate delivery.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if !handled[eventType] {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "bigcommerce: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	if len(src.Secrets) == 0 {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "bigcommerce: a signing secret is needed (--secret <client secret>)")
	}
	k, err := key(src.Secrets[0])
	if err != nil {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "bigcommerce: secrets[0] starts with whsec_ but is not base64")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.EventID == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		o.EventID = hex.EncodeToString(b)
	}
	if o.OrderRef == "" {
		o.OrderRef = strconv.FormatInt(100+o.Now.UnixNano()%9000, 10)
	}
	if o.SKU == "" {
		o.SKU = "SKU-1"
	}
	if o.Quantity == 0 {
		o.Quantity = 5
	}
	sum := sha1.Sum([]byte(o.EventID))
	hash := hex.EncodeToString(sum[:])
	var data map[string]any
	switch eventType {
	case ScopeSKUInventoryUpdated:
		// Catalog ids derived from the SKU, so that one SKU always names one variant.
		h := fnv.New32a()
		h.Write([]byte(o.SKU))
		n := int64(h.Sum32()%100000) + 1
		data = map[string]any{"type": "sku", "id": n, "inventory": map[string]any{
			"product_id": n + 100000, "method": "absolute", "value": o.Quantity, "variant_id": n + 200000,
		}}
	default:
		id, err := strconv.ParseInt(o.OrderRef, 10, 64)
		if err != nil || id <= 0 {
			return webhook.Request{}, domain.Errorf(domain.EINVALID, "bigcommerce: order ids are positive integers; %q is not one", o.OrderRef)
		}
		data = map[string]any{"type": "order", "id": id}
		if eventType == ScopeOrderStatusUpdated {
			data["status"] = map[string]any{"previous_status_id": 0, "new_status_id": 11}
		}
	}
	body, err := json.Marshal(map[string]any{
		"scope": eventType, "store_id": "1025646", "data": data, "hash": hash,
		"created_at": o.Now.Unix(), "producer": "stores/" + src.Setting("store_hash", "abc123"),
	})
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	stdwebhooks.SetHeaders(h, k, "msg_"+hash[:24], o.Now.Unix(), body)
	return webhook.Request{Header: h, Body: body}, nil
}
