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
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// servePublish publishes the request body (text) on the topic of the path,
// from the sender HTTPSender, and answers 202 {"delivered": N} with the
// number of local deliveries.
func (f *Front) servePublish(w http.ResponseWriter, r *http.Request) {
	code := f.publish(w, r)
	f.metrics.publishRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (f *Front) publish(w http.ResponseWriter, r *http.Request) int {
	if f.cfg.PublishToken != "" {
		tok, ok := bearerToken(r)
		if !ok {
			unauthorized(w, "publishing needs a token: Authorization: Bearer TOKEN")
			return http.StatusUnauthorized
		}
		if !tokenEqual(tok, f.cfg.PublishToken) {
			unauthorized(w, "wrong token")
			return http.StatusUnauthorized
		}
	}
	if ok, wait := f.pubRate.allow(r.RemoteAddr, time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		httpError(w, http.StatusTooManyRequests, "rate limited: over --rate-limit publishes per second from this address")
		return http.StatusTooManyRequests
	}
	topic := r.PathValue("topic")
	if err := hub.ValidateTopic(topic); err != nil {
		httpError(w, http.StatusBadRequest, userText(err))
		return http.StatusBadRequest
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
	n := f.hub.Publish(&hub.Message{Topic: topic, From: HTTPSender, Text: line.SanitizeString(text)})
	writeJSON(w, http.StatusAccepted, struct {
		Delivered int `json:"delivered"`
	}{n})
	return http.StatusAccepted
}

// userText is a hub error as shown to users, without the "hub: " prefix.
func userText(err error) string {
	return strings.TrimPrefix(err.Error(), "hub: ")
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
