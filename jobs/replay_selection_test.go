package jobs_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/jobs"
)

func TestReplaySelection(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		status  string
		want    []int64
		wantErr string
	}{
		{name: "ids", args: []string{"1042", "1043"}, want: []int64{1042, 1043}},
		{name: "a status", status: "failed"},
		{name: "nothing named", wantErr: "name webhook ids, or select them with --status (failed, rejected, ignored or received)"},
		{name: "not an id", args: []string{"1042", "abc"}, wantErr: `"abc" is not a webhook id (see GET /api/v1/webhooks)`},
		{name: "not positive", args: []string{"0"}, wantErr: `"0" is not a webhook id (see GET /api/v1/webhooks)`},
		{name: "applied", status: "applied", wantErr: "--status applied: applied webhooks are never replayed; replaying them would change nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jobs.ReplaySelection(tt.args, tt.status)
			if gotErr := fmt.Sprint(err); tt.wantErr != "" && gotErr != tt.wantErr || tt.wantErr == "" && err != nil {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}
