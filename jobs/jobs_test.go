package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/adapters/postgres"
	"github.com/tradewind/tradewind/adapters/postgres/pgtest"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/internal/testenv"
	"github.com/tradewind/tradewind/jobs"
)

// env is a real PostgreSQL inbox and a real Redis with Asynq's client and inspector.
type env struct {
	t         *testing.T
	db        *sqlx.DB
	inbox     *postgres.Inbox
	redis     asynq.RedisConnOpt
	client    *asynq.Client
	inspector *asynq.Inspector
	seq       int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := pgtest.Open(t, 8)
	r := testenv.StartRedis(t)
	opt, err := asynq.ParseRedisURI(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, inbox: &postgres.Inbox{DB: db}, redis: opt, client: asynq.NewClient(opt), inspector: asynq.NewInspector(opt)}
	t.Cleanup(func() {
		e.client.Close()
		e.inspector.Close()
	})
	return e
}

// insert stores n received entries of provider, received at at, and returns their ids.
func (e *env) insert(provider string, n int, at time.Time) []int64 {
	e.t.Helper()
	entries := make([]domain.InboxEntry, n)
	for i := range entries {
		e.seq++
		entries[i] = domain.InboxEntry{Source: "src-" + provider, Provider: provider, EventID: fmt.Sprintf("evt_%d", e.seq),
			EventType: "test.event", Header: http.Header{}, Body: []byte(`{}`), ReceivedAt: at, Status: domain.InboxReceived}
	}
	res, err := e.inbox.Insert(context.Background(), entries)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]int64, n)
	for i, r := range res {
		ids[i] = r.ID
	}
	return ids
}

// taskState is the state of an inbox entry's task on queue, or "none".
func (e *env) taskState(queue string, id int64) string {
	e.t.Helper()
	info, err := e.inspector.GetTaskInfo(queue, jobs.ProcessWebhookTaskID(id))
	if err != nil {
		return "none"
	}
	return info.State.String()
}

type row struct {
	Status    string `db:"status"`
	Attempts  int    `db:"attempts"`
	LastError string `db:"last_error"`
}

func (e *env) row(id int64) row {
	e.t.Helper()
	var r row
	if err := e.db.Get(&r, `SELECT status, attempts, last_error FROM inbox WHERE id = $1`, id); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, cond)
}
