package domain

import "testing"

func TestCompareShownLevel(t *testing.T) {
	tests := []struct {
		name              string
		shown, want, last int64
		drifted           bool
		detail            string
	}{
		{name: "agrees", shown: 8, want: 8, last: 8},
		{name: "agrees though the last push is older", shown: 8, want: 8, last: 5},
		{name: "changed in the store", shown: 5, want: 8, last: 8, drifted: true,
			detail: `shop: SKU "MUG": the store shows 5, Tradewind publishes 8 (last published 8)`},
		{name: "stock changed since the last push", shown: 8, want: 6, last: 8, drifted: true,
			detail: `shop: SKU "MUG": the store shows 8, Tradewind publishes 6 (last published 8)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, detail, drifted := CompareShownLevel("shop", "MUG", tt.shown, tt.want, tt.last)
			if drifted != tt.drifted || detail != tt.detail {
				t.Errorf("CompareShownLevel = %v %q, want %v %q", drifted, detail, tt.drifted, tt.detail)
			}
			if drifted && (d.Shown != tt.shown || d.Want != tt.want || d.Published != tt.last) {
				t.Errorf("drift %+v", d)
			}
		})
	}
}
