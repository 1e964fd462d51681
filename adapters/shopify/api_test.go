package shopify

import (
	"testing"

	"github.com/tradewind/tradewind/domain"
)

func TestNewAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings map[string]string
		wantBase string
		wantCode string
	}{
		{"shop domain", map[string]string{"admin_token": "shpat_1", "shop_domain": "acme.myshopify.com"}, "https://acme.myshopify.com/admin/api/2024-10", ""},
		{"api_base_url wins", map[string]string{"admin_token": "shpat_1", "shop_domain": "acme.myshopify.com", "api_base_url": "http://127.0.0.1:9/admin/api/2024-10/"}, "http://127.0.0.1:9/admin/api/2024-10", ""},
		{"no token", map[string]string{"shop_domain": "acme.myshopify.com"}, "", domain.EINVALID},
		{"no shop", map[string]string{"admin_token": "shpat_1"}, "", domain.EINVALID},
		{"shop with a path", map[string]string{"admin_token": "shpat_1", "shop_domain": "acme.myshopify.com/admin"}, "", domain.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAPI(domain.Source{ID: "s", Provider: Kind, Settings: tt.settings}, nil)
			if tt.wantCode != "" {
				if domain.ErrorCode(err) != tt.wantCode {
					t.Fatalf("error %v; want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil || a.BaseURL != tt.wantBase || a.Token != "shpat_1" {
				t.Fatalf("%+v, %v; want base %s", a, err, tt.wantBase)
			}
		})
	}
}

func TestNextLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"none", nil, ""},
		{"next only", []string{`<https://a.myshopify.com/admin/api/2024-10/orders.json?limit=250&page_info=abc>; rel="next"`},
			"https://a.myshopify.com/admin/api/2024-10/orders.json?limit=250&page_info=abc"},
		{"previous and next", []string{`<https://a/orders.json?page_info=p>; rel="previous", <https://a/orders.json?page_info=n>; rel="next"`}, "https://a/orders.json?page_info=n"},
		{"previous only", []string{`<https://a/orders.json?page_info=p>; rel="previous"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextLink(tt.headers); got != tt.want {
				t.Errorf("nextLink = %q; want %q", got, tt.want)
			}
		})
	}
}
