package reconcile

import (
	"context"
	"iter"
)

// Merge walks two streams that are both in one key order, side by side, and
// calls visit once per key: with both items when both streams hold it, with
// theirs alone (ours nil) when only the provider's stream does, with ours alone
// when only Tradewind's does. compare orders a provider item against one of ours
// (negative: theirs comes first). Only the two current items are in memory,
// whatever the streams' length. The first error of a stream or of visit ends
// the walk and is returned; the other stream is not read further.
func Merge[T, U any](ctx context.Context, theirs iter.Seq2[T, error], ours iter.Seq2[U, error],
	compare func(T, U) int, visit func(theirs *T, ours *U) error) error {
	nextT, stopT := iter.Pull2(theirs)
	defer stopT()
	nextU, stopU := iter.Pull2(ours)
	defer stopU()

	t, errT, okT := nextT()
	u, errU, okU := nextU()
	for {
		if errT != nil {
			return errT
		}
		if errU != nil {
			return errU
		}
		if !okT && !okU {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c := 0
		switch {
		case !okT:
			c = 1
		case !okU:
			c = -1
		default:
			c = compare(t, u)
		}
		var err error
		switch {
		case c < 0:
			tt := t
			err = visit(&tt, nil)
			t, errT, okT = nextT()
		case c > 0:
			uu := u
			err = visit(nil, &uu)
			u, errU, okU = nextU()
		default:
			tt, uu := t, u
			err = visit(&tt, &uu)
			t, errT, okT = nextT()
			u, errU, okU = nextU()
		}
		if err != nil {
			return err
		}
	}
}

// Slice yields the items of s, for streams held in memory (tests, the bench's
// baseline).
func Slice[T any](s []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, v := range s {
			if !yield(v, nil) {
				return
			}
		}
	}
}
