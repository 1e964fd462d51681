package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tradewind/tradewind/internal/testenv"
)

// reserve posts one reservation; it returns the status and the decoded body.
func reserve(client *http.Client, base string, body map[string]any, key string) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/reservations", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// checkStockInvariants fails unless, for every SKU, reserved equals the active
// reservations plus what orders hold, both counters equal their ledger sums, and
// available is not negative.
func checkStockInvariants(t *testing.T, db *sqlx.DB) {
	t.Helper()
	var bad []string
	err := db.Select(&bad, `
		SELECT i.sku || ': on_hand ' || i.on_hand || ' reserved ' || i.reserved ||
			' ledger ' || (SELECT COALESCE(SUM(delta_on_hand), 0) FROM stock_ledger l WHERE l.sku = i.sku) || '/' ||
			(SELECT COALESCE(SUM(delta_reserved), 0) FROM stock_ledger l WHERE l.sku = i.sku) ||
			' active reservations ' || (SELECT COALESCE(SUM(quantity), 0) FROM reservations r WHERE r.sku = i.sku AND r.state = 'active')
		FROM inventory i
		WHERE i.on_hand <> (SELECT COALESCE(SUM(delta_on_hand), 0) FROM stock_ledger l WHERE l.sku = i.sku)
		   OR i.reserved <> (SELECT COALESCE(SUM(delta_reserved), 0) FROM stock_ledger l WHERE l.sku = i.sku)
		   OR i.reserved <> (SELECT COALESCE(SUM(quantity), 0) FROM reservations r WHERE r.sku = i.sku AND r.state = 'active')
		       + (SELECT COALESCE(SUM(quantity), 0) FROM allocations a WHERE a.sku = i.sku AND a.state = 'reserved')
		   OR i.reserved > i.on_hand`)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("stock invariant broken: %s", b)
	}
}

func TestThousandConcurrentReservationsNeverOversell(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	skus := []string{"FS-1", "FS-2", "FS-3", "FS-4"} // 25 units each: 100 in all
	for _, sku := range skus {
		if code := api(t, m, http.MethodPut, "/api/v1/inventory/"+sku, map[string]int{"on_hand": 25}, nil); code != http.StatusOK {
			t.Fatalf("PUT %s = %d", sku, code)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 128, MaxIdleConnsPerHost: 128}}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		granted  = map[string]int64{}
		rejected = map[string]int64{} // the largest rejected quantity per SKU
		other    []string
	)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sku, qty := skus[i%len(skus)], int64(1+rand.IntN(3))
			code, body, err := reserve(client, "http://"+m.Addr(), map[string]any{"sku": sku, "quantity": qty}, "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, err.Error())
			case code == http.StatusCreated:
				granted[sku] += qty
			case code == http.StatusConflict && body["error"].(map[string]any)["code"] == "insufficient_stock":
				if avail := int64(body["error"].(map[string]any)["available"].(float64)); avail >= qty {
					other = append(other, fmt.Sprintf("rejected %d with %d available", qty, avail))
				}
				rejected[sku] = max(rejected[sku], qty)
			default:
				other = append(other, fmt.Sprintf("%d %v", code, body))
			}
		}()
	}
	wg.Wait()
	for _, o := range other {
		t.Error(o)
	}
	for _, sku := range skus {
		var st struct{ OnHand, Reserved, Available int64 }
		if err := e.db.QueryRow(`SELECT on_hand, reserved, on_hand - reserved FROM inventory WHERE sku = $1`, sku).Scan(&st.OnHand, &st.Reserved, &st.Available); err != nil {
			t.Fatal(err)
		}
		if st.Reserved != granted[sku] || granted[sku] > 25 || st.Available < 0 {
			t.Errorf("%s: granted %d, reserved %d, available %d: want granted = reserved ≤ 25", sku, granted[sku], st.Reserved, st.Available)
		}
		if rejected[sku] > 0 && st.Available >= rejected[sku] {
			t.Errorf("%s: %d still available yet a request for %d was refused", sku, st.Available, rejected[sku])
		}
	}
	checkStockInvariants(t, e.db)
}

func TestReservationIdempotencyOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.start(e.config(), Roles{Serve: true})
	api(t, m, http.MethodPut, "/api/v1/inventory/IDEM-1", map[string]int{"on_hand": 3}, nil)
	base := "http://" + m.Addr()
	body := map[string]any{"sku": "IDEM-1", "quantity": 2, "order_ref": "5501", "ttl_seconds": 120}
	code1, first, _ := reserve(http.DefaultClient, base, body, "retry-me")
	code2, second, _ := reserve(http.DefaultClient, base, body, "retry-me")
	if code1 != http.StatusCreated || code2 != http.StatusCreated || first["id"] != second["id"] {
		t.Fatalf("first %d %v, retry %d %v: want the same reservation twice", code1, first, code2, second)
	}
	var st struct{ Reserved int64 }
	api(t, m, http.MethodGet, "/api/v1/inventory/IDEM-1", nil, &st)
	if st.Reserved != 2 {
		t.Errorf("reserved = %d, want 2", st.Reserved)
	}
	if code, body, _ := reserve(http.DefaultClient, base, map[string]any{"sku": "IDEM-1"}, ""); code != http.StatusBadRequest {
		t.Errorf("without quantity = %d %v, want 400", code, body)
	}
	var released map[string]any
	if code := api(t, m, http.MethodDelete, "/api/v1/reservations/"+first["id"].(string), nil, &released); code != http.StatusOK || released["state"] != "released" {
		t.Errorf("DELETE = %d %v", code, released)
	}
	if code := api(t, m, http.MethodDelete, "/api/v1/reservations/res_missing", nil, nil); code != http.StatusNotFound {
		t.Errorf("DELETE unknown = %d, want 404", code)
	}
}

func TestKilledDuringReservationStormLosesAndInventsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(), Roles{}) // only migrates the database for the child
	if _, err := e.db.Exec(`INSERT INTO inventory (sku, on_hand) VALUES ('STORM-1', 500);
		INSERT INTO stock_ledger (sku, cause, delta_on_hand, occurred_at) VALUES ('STORM-1', 'manual_set', 500, now())`); err != nil {
		t.Fatal(err)
	}
	cfg := e.config()
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	base := "http://" + cfg.Listen
	proc := e.child("serve", cfg)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil, "the child to serve"
	})

	var answered atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 32}}
	stop := make(chan struct{})
	var mu sync.Mutex
	ids := map[string]bool{}
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := reserve(client, base, map[string]any{"sku": "STORM-1", "quantity": 1}, fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					return // the server is gone
				}
				if code == http.StatusCreated {
					mu.Lock()
					ids[body["id"].(string)] = true
					mu.Unlock()
					answered.Add(1)
				}
			}
		}()
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return answered.Load() >= 100, "100 reservations answered before the kill"
	})
	_ = proc.Process.Kill() // SIGKILL in the middle of the storm
	_ = proc.Wait()
	close(stop)
	wg.Wait()

	// Restart and look: every answered reservation exists, and the counters agree
	// with the ledger and the reservations.
	e.start(e.config(), Roles{Serve: true})
	var stored int64
	if err := e.db.Get(&stored, `SELECT count(*) FROM reservations WHERE id = ANY($1)`, keys(ids)); err != nil {
		t.Fatal(err)
	}
	if stored != int64(len(ids)) {
		t.Errorf("%d reservations were answered 201 but only %d are stored", len(ids), stored)
	}
	checkStockInvariants(t, e.db)
}

func keys(m map[string]bool) any {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return pqArray(out)
}
