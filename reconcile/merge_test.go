package reconcile_test

import (
	"cmp"
	"context"
	"errors"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/reconcile"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		theirs      []int
		ours        []int
		wantVisited []string
	}{
		{"both empty", nil, nil, nil},
		{"same", []int{1, 2}, []int{1, 2}, []string{"=1", "=2"}},
		{"missing here", []int{1, 2, 3}, []int{2}, []string{"+1", "=2", "+3"}},
		{"unknown to them", []int{2}, []int{1, 2, 3}, []string{"-1", "=2", "-3"}},
		{"one side empty", nil, []int{4}, []string{"-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := reconcile.Merge(context.Background(), reconcile.Slice(tt.theirs), reconcile.Slice(tt.ours), cmp.Compare[int],
				func(a, b *int) error {
					switch {
					case a != nil && b != nil:
						got = append(got, "="+string(rune('0'+*a)))
					case a != nil:
						got = append(got, "+"+string(rune('0'+*a)))
					default:
						got = append(got, "-"+string(rune('0'+*b)))
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(tt.wantVisited, got); diff != "" {
				t.Errorf("visits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeStopsAtAStreamError(t *testing.T) {
	t.Parallel()
	boom := errors.New("page failed")
	theirs := func(yield func(int, error) bool) {
		if yield(1, nil) {
			yield(0, boom)
		}
	}
	n := 0
	err := reconcile.Merge(context.Background(), theirs, reconcile.Slice([]int{1, 2, 3}), cmp.Compare[int],
		func(_, _ *int) error { n++; return nil })
	if !errors.Is(err, boom) || n != 1 {
		t.Errorf("Merge = %v after %d visits; want the stream's error after 1", err, n)
	}
}

// TestBenchFindsWhatTheBaselineFinds runs the benchmark small: the streaming
// comparison finds the same missing records as the sorted merge.
func TestBenchFindsWhatTheBaselineFinds(t *testing.T) {
	t.Parallel()
	res, err := reconcile.Bench(context.Background(), reconcile.BenchParams{Orders: 2345, MissingEvery: 20})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range 2345 {
		if i%20 == 10 {
			want++
		}
	}
	if res.Compared != 2345 || res.Missing != want {
		t.Errorf("compared %d, missing %d; want 2345 and %d", res.Compared, res.Missing, want)
	}
}
