package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Targets of the flash sale (the README's "Benchmarks").
const (
	flashSaleTargetRatio = 3.0
	flashSaleBuyers      = 64
	flashSaleStock       = 2000 // units in the race for the last unit
)

// runFlashSaleBench: reservations per second on one hot SKU through the real
// API, beside a loop of single-row conditional UPDATEs on the same PostgreSQL at
// the same concurrency. Then a race: flashSaleBuyers buyers for flashSaleStock
// units until every buyer is refused; units sold must equal the stock exactly.
func runFlashSaleBench(ctx context.Context, b *benchRun) ([]Figure, error) {
	b.step("starting tradewind")
	app, err := b.start(ctx, Roles{Serve: true})
	if err != nil {
		return nil, err
	}
	defer stop(app)
	db, err := sql.Open("postgres", b.dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(flashSaleBuyers)
	db.SetMaxIdleConns(flashSaleBuyers)
	if _, err := db.ExecContext(ctx, `INSERT INTO inventory (sku, on_hand) VALUES ('HOT-BASELINE', 1000000000), ('HOT-TW', 1000000000), ('HOT-RACE', $1)`, flashSaleStock); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO stock_ledger (sku, cause, delta_on_hand, occurred_at) VALUES
		('HOT-BASELINE', 'manual_set', 1000000000, now()), ('HOT-TW', 'manual_set', 1000000000, now()), ('HOT-RACE', 'manual_set', $1, now())`, flashSaleStock); err != nil {
		return nil, err
	}

	b.step("baseline, conditional UPDATE on one row, %d at once", flashSaleBuyers)
	var base loadStats
	b.window(func() {
		base = closedLoop(ctx, flashSaleBuyers, b.opts.Duration, func(ctx context.Context, _ int) error {
			res, err := db.ExecContext(ctx, `UPDATE inventory SET reserved = reserved + 1 WHERE sku = 'HOT-BASELINE' AND on_hand - reserved >= 1`)
			if err == nil {
				if n, _ := res.RowsAffected(); n != 1 {
					err = fmt.Errorf("no stock")
				}
			}
			return err
		})
	})

	client := &fasthttp.HostClient{Addr: app.Addr, MaxConns: flashSaleBuyers, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	defer client.CloseIdleConnections()
	reserve := func(sku string) (int, error) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + app.Addr + "/api/v1/reservations")
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.Header.Set("Authorization", "Bearer "+app.APIToken)
		req.SetBodyString(`{"sku":"` + sku + `","quantity":1,"ttl_seconds":600}`)
		if err := client.DoTimeout(req, resp, time.Minute); err != nil {
			return 0, err
		}
		return resp.StatusCode(), nil
	}

	b.step("tradewind, reservations on one SKU, %d at once", flashSaleBuyers)
	var tw loadStats
	b.window(func() {
		tw = closedLoop(ctx, flashSaleBuyers, b.opts.Duration, func(context.Context, int) error {
			status, err := reserve("HOT-TW")
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("HTTP %d", status)
			}
			return err
		})
	})
	if tw.ok == 0 {
		return nil, fmt.Errorf("no reservation succeeded: %s", tw.firstErr)
	}
	rate := Figure{Name: "reservations on one SKU", Concurrency: flashSaleBuyers, Value: round1(tw.rate()), Unit: "/s",
		P50Ms: tw.pct(0.5), P99Ms: tw.pct(0.99)}.against("UPDATEs/s", round1(base.rate()), flashSaleTargetRatio)
	rate.Note = fmt.Sprintf("baseline p50 %.2f ms, p99 %.2f ms", base.pct(0.5), base.pct(0.99))

	b.step("race: %d buyers for %d units", flashSaleBuyers, flashSaleStock)
	var (
		sold, refused, failed atomic.Int64
		lat                   = make([]loadShard, flashSaleBuyers)
		wg                    sync.WaitGroup
	)
	b.window(func() {
		for w := range flashSaleBuyers {
			wg.Go(func() {
				for ctx.Err() == nil { // each buyer tries until it is told the stock is gone
					t := time.Now()
					status, err := reserve("HOT-RACE")
					switch {
					case err != nil:
						failed.Add(1)
						return
					case status == http.StatusCreated:
						sold.Add(1)
						lat[w].record(nil, time.Since(t))
					case status == http.StatusConflict:
						refused.Add(1)
						return
					default:
						failed.Add(1)
						return
					}
				}
			})
		}
		wg.Wait()
	})
	race := mergeShards(lat, 0)
	var reserved int64
	if err := db.QueryRowContext(ctx, `SELECT reserved FROM inventory WHERE sku = 'HOT-RACE'`).Scan(&reserved); err != nil {
		return nil, err
	}
	n := sold.Load()
	oversold := max(0, reserved-flashSaleStock, n-flashSaleStock)
	soldFig := Figure{Name: "units sold in the race", Value: float64(n), Unit: "units", P99Ms: race.pct(0.99)}.
		meets(fmt.Sprintf("= %d, oversold 0", flashSaleStock), n == flashSaleStock && reserved == flashSaleStock && oversold == 0)
	soldFig.Note = fmt.Sprintf("stock %d, reserved in the database %d, oversold %d, buyers refused at the end %d, errors %d",
		flashSaleStock, reserved, oversold, refused.Load(), failed.Load())
	return []Figure{rate, soldFig}, nil
}
