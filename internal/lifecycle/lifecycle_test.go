package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/internal/lifecycle"
)

type component struct {
	name     string
	log      *[]string
	startErr error
	stopErr  error
}

func (c component) Start(context.Context) error {
	*c.log = append(*c.log, "start "+c.name)
	return c.startErr
}

func (c component) Shutdown(context.Context) error {
	*c.log = append(*c.log, "stop "+c.name)
	return c.stopErr
}

func TestGroupShutsDownInReverseOrderWhatStarted(t *testing.T) {
	ctx := context.Background()
	var log []string
	var g lifecycle.Group
	for _, c := range []component{
		{name: "reserver", log: &log},
		{name: "worker", log: &log, stopErr: errors.New("tasks left")},
		{name: "server", log: &log, startErr: errors.New("address in use")},
	} {
		_ = g.Start(ctx, c.name, c)
	}
	err := g.Shutdown(ctx)
	want := []string{"start reserver", "start worker", "start server", "stop worker", "stop reserver"}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if err == nil || err.Error() != "worker: tasks left" {
		t.Errorf("Shutdown = %v, want the worker's error, named", err)
	}
}
