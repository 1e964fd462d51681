package adyen_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/adapters/adyen"
	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/adapters/webhook/webhooktest"
)

func TestBatchOfSamplesVerifiesItemByItem(t *testing.T) {
	p := adyen.Provider{}
	var reqs []webhook.Request
	for _, typ := range p.Flow() {
		r, err := p.Sample(src, typ, webhook.SampleOptions{EventID: "b-" + typ, OrderRef: "1001", Amount: 1000, Currency: "EUR", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	b, err := adyen.Batch(reqs)
	if err != nil {
		t.Fatal(err)
	}
	d := webhooktest.Delivery(b, now)
	if err := p.Verify(context.Background(), src, d); err != nil {
		t.Fatalf("Verify(batch) = %v", err)
	}
	msgs, err := p.Parse(src, d)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Type)
	}
	if diff := cmp.Diff(p.Flow(), got); diff != "" {
		t.Errorf("batch item types (-want +got):\n%s", diff)
	}

	if _, err := adyen.Batch(nil); err == nil {
		t.Error("Batch(nil) = nil error, want one")
	}
	if _, err := adyen.Batch([]webhook.Request{{Body: []byte(`{"live":"false"}`)}}); err == nil {
		t.Error("Batch of a delivery without items = nil error, want one")
	}
}
