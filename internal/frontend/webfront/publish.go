package webfront

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// servePublish publishes the request body (text) on the topic of the path,
// from the sender HTTPSender, and answers 202 {"delivered": N} with the
// number of local deliveries.
func (f *Front) servePublish(w http.ResponseWriter, r *http.Request) {
	code := f.publish(w, r)
	f.metrics.publishRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (f *Front) publish(w http.ResponseWriter, r *http.Request) int {
	if !f.originAllowed(r) {
		// A page on another site publishing through a visitor's
		// browser: refused, as for WebSocket.
		httpError(w, http.StatusForbidden, "cross-origin publish refused: Origin "+clip(r.Header.Get("Origin"))+" is neither this host nor in --allowed-origins")
		return http.StatusForbidden
	}
	id, ok := f.identify(w, r, "http", false)
	if !ok {
		return http.StatusUnauthorized
	}
	topic := r.PathValue("topic")
	if err := hub.ValidateTopic(topic); err != nil {
		// Refused before the body is read; the session's Publish checks
		// again, as it does for every door.
		return publishRefused(w, session.FromHub(err))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, f.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("message too large: the limit is %d bytes", f.cfg.MaxBody))
			return http.StatusRequestEntityTooLarge
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			httpError(w, http.StatusRequestTimeout, fmt.Sprintf("request too slow: send it whole within %v", f.cfg.ReadTimeout))
			return http.StatusRequestTimeout
		}
		httpError(w, http.StatusBadRequest, "cannot read body")
		return http.StatusBadRequest
	}
	text := strings.TrimRight(string(body), "\r\n")
	if text == "" {
		httpError(w, http.StatusBadRequest, "empty message: send the text as the request body")
		return http.StatusBadRequest
	}
	n, err := f.reg.Publish(session.Visitor{Door: "http", Nick: HTTPSender, RemoteAddr: r.RemoteAddr, Identity: id}, topic, text)
	if err != nil {
		return publishRefused(w, err)
	}
	writeJSON(w, http.StatusAccepted, struct {
		Delivered int `json:"delivered"`
	}{n})
	return http.StatusAccepted
}

// publishRefused answers a publish the session layer refused, with the
// status that fits the refusal's code, and returns the status.
func publishRefused(w http.ResponseWriter, err error) int {
	var e *session.Error
	if !errors.As(err, &e) {
		httpError(w, http.StatusInternalServerError, err.Error())
		return http.StatusInternalServerError
	}
	code := http.StatusBadRequest
	text := e.Text
	switch e.Code {
	case session.CodeRateLimited:
		code = http.StatusTooManyRequests
		text = "rate limited: over --rate-limit publishes per second from this address"
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds())))))
	case session.CodeDenied:
		code = http.StatusForbidden
	case session.CodeAuthRequired, session.CodeBadToken:
		unauthorized(w, text)
		return http.StatusUnauthorized
	case session.CodeInternal:
		code = http.StatusInternalServerError
	}
	httpError(w, code, text)
	return code
}

// writeJSON answers code with v as JSON, one line. It does not escape
// &, < and > as \u0026 and the like: the body is application/json, never
// HTML, and error texts quote what the user sent.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "internal encoding error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}
