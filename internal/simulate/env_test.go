package simulate_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/internal/simulate"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name string
		flag string // --sources-file
		env  map[string]string
		want simulate.Options
	}{
		{name: "nothing set: the dev token, no sources file here", want: simulate.Options{APIToken: simulate.DevAPIToken}},
		{name: "from the environment",
			env:  map[string]string{"TRADEWIND_SOURCES_FILE": "/etc/tw/sources.yaml", "TRADEWIND_LISTEN": ":9090", "TRADEWIND_API_TOKEN": "tok-0123456789abcdef"},
			want: simulate.Options{SourcesFile: "/etc/tw/sources.yaml", Listen: ":9090", APIToken: "tok-0123456789abcdef"}},
		{name: "the flag wins", flag: "mine.yaml", env: map[string]string{"TRADEWIND_SOURCES_FILE": "/etc/tw/sources.yaml"},
			want: simulate.Options{SourcesFile: "mine.yaml", APIToken: simulate.DevAPIToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := simulate.Options{SourcesFile: tt.flag}
			got.FromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}
