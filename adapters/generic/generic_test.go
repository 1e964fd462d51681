package generic_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tradewind/tradewind/adapters/generic"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

var src = domain.Source{ID: "s"}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		body string
		want string // part of the message
	}{
		{"not an object", "OrderPlaced", `[1]`, "not a JSON object"},
		{"no data", "InventoryLevelSet", `{"timestamp":"2026-11-24T12:00:00Z"}`, "lacks the data object"},
		{"negative version", "InventoryLevelSet", `{"data":{"version":-1,"stock":{"sku":"A","on_hand":1}}}`, "version must not be negative"},
		{"bad occurred_at", "InventoryLevelSet", `{"data":{"occurred_at":"yesterday","stock":{"sku":"A","on_hand":1}}}`, "data.occurred_at"},
		{"empty occurred_at", "InventoryLevelSet", `{"data":{"occurred_at":"","stock":{"sku":"A","on_hand":1}}}`, "data.occurred_at"},
		{"bad timestamp", "InventoryLevelSet", `{"timestamp":"now","data":{"stock":{"sku":"A","on_hand":1}}}`, "timestamp"},
		{"wrong and missing part", "PaymentSucceeded", `{"data":{"payment_ref":"p","stock":{"sku":"A","on_hand":1}}}`, "data.stock does not belong"},
		{"order without currency", "OrderPlaced", `{"data":{"order_ref":"1","order":{}}}`, "currency"},
		{"negative stock", "InventoryLevelSet", `{"data":{"stock":{"sku":"A","on_hand":-1}}}`, "on_hand must not be negative"},
		{"negative dispute", "DisputeOpened", `{"data":{"payment_ref":"p","dispute":{"ref":"d","amount":-1,"currency":"USD"}}}`, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := generic.Normalize("p", src, domain.Message{ID: "1", Type: tt.typ, Payload: []byte(tt.body)})
			if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Normalize = %v, want %s containing %q", err, domain.EINVALID, tt.want)
			}
		})
	}
}

func TestNormalizeUnhandledTypeIsIgnoredUnread(t *testing.T) {
	evs, err := generic.Normalize("p", src, domain.Message{ID: "1", Type: "order.shipped", Payload: []byte(`not json`)})
	if err != nil || len(evs) != 0 {
		t.Fatalf("Normalize = %v, %v; want no events and no error", evs, err)
	}
}

func TestOccurredAtPrecedence(t *testing.T) {
	signed := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want time.Time
	}{
		{"signed time", `{"data":{"stock":{"sku":"A","on_hand":1}}}`, signed},
		{"timestamp", `{"timestamp":"2026-11-24T13:00:00+01:00","data":{"stock":{"sku":"A","on_hand":1}}}`, signed},
		{"occurred_at", `{"timestamp":"2026-11-24T11:00:00Z","data":{"occurred_at":"2026-11-24T10:00:00Z","stock":{"sku":"A","on_hand":1}}}`, signed.Add(-2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := generic.Normalize("p", src, domain.Message{ID: "1", Type: "InventoryLevelSet", OccurredAt: signed, Payload: []byte(tt.body)})
			if err != nil || len(evs) != 1 || !evs[0].OccurredAt.Equal(tt.want) || evs[0].OccurredAt.Location() != time.UTC {
				t.Fatalf("Normalize = %+v, %v; want one event at %s UTC", evs, err, tt.want)
			}
		})
	}
}

func TestEverySampleTypeNormalizes(t *testing.T) {
	o := webhook.SampleOptions{EventID: "e1", OrderRef: "1001", Currency: "usd", Now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	for _, typ := range generic.SampleTypes() {
		if !generic.Handles(typ) {
			t.Errorf("Handles(%s) = false for a sample type", typ)
		}
		s, err := generic.NewSample("p", "evt_", typ, o)
		if err != nil {
			t.Fatalf("NewSample(%s) = %v", typ, err)
		}
		body, err := json.Marshal(s.Doc)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := generic.Normalize("p", src, domain.Message{ID: o.EventID, Type: typ, Payload: body})
		if err != nil || len(evs) != 1 || evs[0].Type != domain.EventType(typ) || !evs[0].OccurredAt.Equal(o.Now) {
			t.Errorf("Normalize(sample %s) = %+v, %v; want one %s event at %s", typ, evs, err, typ, o.Now)
		}
	}
	if _, err := generic.NewSample("p", "evt_", "order.shipped", o); domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), "OrderPlaced") {
		t.Errorf("NewSample(unknown) = %v, want %s listing the types", err, domain.EINVALID)
	}
}
