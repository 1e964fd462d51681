package paypal

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	_ "embed" // the simulator's committed key pair
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tradewind/tradewind/adapters/webhook"
	"github.com/tradewind/tradewind/domain"
)

// SimulatorCertURL is the PAYPAL-CERT-URL simulated deliveries name. It is never fetched
// when the source pins the simulator's certificate with cert_file.
const SimulatorCertURL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-tradewind-simulator"

// The simulator's key pair is committed (simulator_key.pem, simulator_cert.pem) rather
// than made per process, so that a certificate pinned once — examples/sources.yaml pins
// examples/paypal-simulator-cert.pem, a copy — verifies every later `tradewind simulate
// paypal`, in any process. The key is public and dev-only: its certificate is
// self-signed, so it verifies only for a source that pins it with cert_file, never
// through PAYPAL-CERT-URL (which must chain to the system roots).
var (
	//go:embed simulator_key.pem
	simulatorKeyPEM []byte
	//go:embed simulator_cert.pem
	simulatorCertPEM []byte
)

// simulator is the parsed key Sample signs with.
var simulator struct {
	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

func simulatorKey() (*rsa.PrivateKey, []byte, error) {
	simulator.once.Do(func() {
		blk, _ := pem.Decode(simulatorKeyPEM)
		if blk == nil {
			simulator.err = errors.New("paypal: simulator_key.pem holds no PEM block")
			return
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			simulator.err = fmt.Errorf("paypal: simulator_key.pem: %w", err)
			return
		}
		key, ok := k.(*rsa.PrivateKey)
		if !ok {
			simulator.err = errors.New("paypal: simulator_key.pem is not an RSA key")
			return
		}
		simulator.key = key
	})
	return simulator.key, simulatorCertPEM, simulator.err
}

// SimulatorCertPEM returns the PEM of the self-signed certificate Sample signs with
// (committed as adapters/paypal/simulator_cert.pem; examples/paypal-simulator-cert.pem
// is a copy).
func SimulatorCertPEM() ([]byte, error) {
	_, p, err := simulatorKey()
	return p, err
}

// WriteSimulatorCert writes the simulator's certificate to path, for a source's cert_file,
// so `tradewind simulate paypal` and tests can produce deliveries that verify.
func WriteSimulatorCert(path string) error {
	p, err := SimulatorCertPEM()
	if err != nil {
		return err
	}
	return os.WriteFile(path, p, 0o644)
}

// SampleTypes implements webhook.Simulator.
func (Provider) SampleTypes() []string {
	return []string{
		"PAYMENT.CAPTURE.COMPLETED", "CHECKOUT.ORDER.APPROVED", "CHECKOUT.ORDER.COMPLETED",
		"PAYMENT.CAPTURE.PENDING", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.REFUNDED",
		"PAYMENT.CAPTURE.REVERSED", "PAYMENT.SALE.COMPLETED", "PAYMENT.SALE.REFUNDED",
		"CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.UPDATED", "CUSTOMER.DISPUTE.RESOLVED",
	}
}

// Flow implements webhook.Simulator: one checkout's life.
func (Provider) Flow() []string {
	return []string{"CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED", "CHECKOUT.ORDER.COMPLETED", "PAYMENT.CAPTURE.REFUNDED"}
}

func simID(prefix, seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	return prefix + strings.ToUpper(hex.EncodeToString(sum[:])[:n])
}

// Sample implements webhook.Simulator. It signs with the simulator's own key: the source
// must pin SimulatorCertPEM via cert_file (see WriteSimulatorCert) and set webhook_id.
// Amounts are written with PayPal's decimals (Units.FormatDecimal: HUF 250000 is "2500");
// an amount PayPal cannot write (HUF 250050) is EINVALID. A dispute is created at the
// inquiry stage, updated at the claim stage (CHARGEBACK), and resolved in the seller's
// favour; a reversal takes the capture back and, as in PayPal's published sample, names
// nothing but the capture (no custom_id): the capture is what leads it to its order.
func (p Provider) Sample(src domain.Source, eventType string, o webhook.SampleOptions) (webhook.Request, error) {
	if !handled[eventType] {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "paypal: cannot simulate %q; try one of: %s", eventType, strings.Join(p.SampleTypes(), ", "))
	}
	webhookID := src.Settings[SettingWebhookID]
	if webhookID == "" {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "paypal: the source needs webhook_id (it is part of the signed message)")
	}
	if _, _, err := simulatorKey(); err != nil {
		return webhook.Request{}, err
	}
	o.FillDefaults()
	if o.EventID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		o.EventID = hex.EncodeToString(b)
	}
	if o.OrderRef == "" {
		o.OrderRef = fmt.Sprintf("%d", 1000+o.Now.UnixNano()%9000)
	}
	cur := strings.ToUpper(o.Currency)
	value, err := Units.FormatDecimal(o.Amount, cur)
	if err != nil {
		return webhook.Request{}, err
	}
	now := o.Now.UTC().Format(time.RFC3339)
	orderID := simID("", "order:"+o.OrderRef, 17)
	captureID := simID("", "capture:"+o.OrderRef, 17)
	v2 := map[string]any{"currency_code": cur, "value": value}
	related := map[string]any{"related_ids": map[string]any{"order_id": orderID}}

	var resourceType string
	var res map[string]any
	switch eventType {
	case "CHECKOUT.ORDER.APPROVED", "CHECKOUT.ORDER.COMPLETED":
		resourceType = "checkout-order"
		pu := map[string]any{"reference_id": "default", "custom_id": o.OrderRef, "amount": v2}
		status := "APPROVED"
		if eventType == "CHECKOUT.ORDER.COMPLETED" {
			status = "COMPLETED"
			pu["payments"] = map[string]any{"captures": []any{map[string]any{"id": captureID, "status": "COMPLETED", "amount": v2, "final_capture": true}}}
		}
		res = map[string]any{"id": orderID, "intent": "CAPTURE", "status": status, "purchase_units": []any{pu}, "create_time": now, "update_time": now}
	case "PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.PENDING":
		resourceType = "capture"
		status := strings.TrimPrefix(eventType, "PAYMENT.CAPTURE.")
		res = map[string]any{"id": captureID, "status": status, "amount": v2, "custom_id": o.OrderRef, "final_capture": true,
			"supplementary_data": related, "create_time": now, "update_time": now}
		if status == "PENDING" {
			res["status_details"] = map[string]any{"reason": "PENDING_REVIEW"}
		}
	case "PAYMENT.CAPTURE.REFUNDED":
		resourceType = "refund"
		res = map[string]any{"id": simID("", "refund:"+o.EventID, 17), "status": "COMPLETED", "amount": v2, "custom_id": o.OrderRef,
			"note_to_payer": "Refund", "create_time": now, "update_time": now,
			"links": []any{map[string]any{"rel": "up", "method": "GET", "href": "https://api.sandbox.paypal.com/v2/payments/captures/" + captureID}}}
	case "PAYMENT.CAPTURE.REVERSED":
		resourceType = "refund"
		res = map[string]any{"id": simID("", "reversal:"+o.EventID, 17), "status": "COMPLETED", "amount": v2,
			"note_to_payer": "Payment reversed", "create_time": now, "update_time": now,
			"links": []any{map[string]any{"rel": "up", "method": "GET", "href": "https://api.sandbox.paypal.com/v2/payments/captures/" + captureID}}}
	case "PAYMENT.SALE.COMPLETED", "PAYMENT.SALE.REFUNDED":
		resourceType = "sale"
		v1 := map[string]any{"total": value, "currency": cur}
		res = map[string]any{"id": simID("", "sale:"+o.OrderRef, 17), "state": "completed", "amount": v1, "custom": o.OrderRef,
			"parent_payment": simID("PAY-", "payment:"+o.OrderRef, 24), "create_time": now, "update_time": now}
		if eventType == "PAYMENT.SALE.REFUNDED" {
			resourceType = "refund"
			res["sale_id"], res["id"] = res["id"], simID("", "refund:"+o.EventID, 17)
		}
	case "CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.UPDATED", "CUSTOMER.DISPUTE.RESOLVED":
		resourceType = "dispute"
		res = map[string]any{"dispute_id": simID("PP-D-", "dispute:"+o.OrderRef, 5), "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
			"status": "OPEN", "dispute_life_cycle_stage": "INQUIRY", "dispute_amount": v2, "create_time": now, "update_time": now,
			"disputed_transactions": []any{map[string]any{"seller_transaction_id": captureID, "custom": o.OrderRef}}}
		switch eventType {
		case "CUSTOMER.DISPUTE.UPDATED":
			res["status"], res["dispute_life_cycle_stage"] = "UNDER_REVIEW", "CHARGEBACK"
		case "CUSTOMER.DISPUTE.RESOLVED":
			res["status"], res["dispute_life_cycle_stage"] = "RESOLVED", "CHARGEBACK"
			res["dispute_outcome"] = map[string]any{"outcome_code": "RESOLVED_SELLER_FAVOUR"}
		}
	}
	body, err := json.Marshal(map[string]any{
		"id": "WH-" + o.EventID, "event_version": "1.0", "create_time": now, "resource_type": resourceType,
		"event_type": eventType, "summary": "Simulated by Tradewind", "resource": res,
	})
	if err != nil {
		return webhook.Request{}, err
	}
	return SignSimulated(src, body, o.Now)
}

// SignSimulated signs body for src as Sample does, with the simulator's key, at time at
// (the transmission id derives from the body and at): for tests that send PayPal's own
// sample payloads. The source must set webhook_id and pin SimulatorCertPEM with cert_file.
func SignSimulated(src domain.Source, body []byte, at time.Time) (webhook.Request, error) {
	webhookID := src.Settings[SettingWebhookID]
	if webhookID == "" {
		return webhook.Request{}, domain.Errorf(domain.EINVALID, "paypal: the source needs webhook_id (it is part of the signed message)")
	}
	key, _, err := simulatorKey()
	if err != nil {
		return webhook.Request{}, err
	}
	now := at.UTC().Format(time.RFC3339)
	sum := sha256.Sum256(body)
	tid := simID("", fmt.Sprintf("transmission:%x:%d", sum, at.UnixNano()), 32)
	tid = strings.ToLower(tid[:8] + "-" + tid[8:12] + "-" + tid[12:16] + "-" + tid[16:20] + "-" + tid[20:32])
	digest := sha256.Sum256(SignedMessage(tid, now, webhookID, body))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return webhook.Request{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderTransmissionID, tid)
	h.Set(HeaderTransmissionTime, now)
	h.Set(HeaderTransmissionSig, base64.StdEncoding.EncodeToString(sig))
	h.Set(HeaderCertURL, SimulatorCertURL)
	h.Set(HeaderAuthAlgo, "SHA256withRSA")
	return webhook.Request{Header: h, Body: body}, nil
}
