package webfront

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// historyBody is the answer of GET /history/{topic}: the topic's current
// position, the kept messages asked for (each the WebSocket door's "msg"
// frame), and the gap markers, if any. docs/history.md describes it.
type historyBody struct {
	Topic    string            `json:"topic"`
	Epoch    string            `json:"epoch,omitempty"`
	Seq      uint64            `json:"seq"`
	Messages []json.RawMessage `json:"messages"`
	Gaps     []historyGap      `json:"gaps,omitzero"`
}

// historyGap is one gap marker of a history answer.
type historyGap struct {
	Topic  string `json:"topic"`
	Missed uint64 `json:"missed,omitempty"`
	Lost   bool   `json:"lost,omitempty"`
	Text   string `json:"text"`
}

// serveHistory answers GET /history/{topic}?since=POSITION&limit=N with
// the topic's kept messages from the position (all that is kept without
// one), the newest N at most, as JSON. Streams' subscribe token applies.
func (f *Front) serveHistory(w http.ResponseWriter, r *http.Request) {
	id, ok := f.identify(w, r, "http", true)
	if !ok {
		return
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > history.MaxReplay {
			httpError(w, http.StatusBadRequest, "limit is a count from 1 to "+strconv.Itoa(history.MaxReplay))
			return
		}
		limit = n
	}
	topic := r.PathValue("topic")
	res, err := f.reg.ReadHistory(session.Visitor{Door: "http", Nick: HTTPSender, RemoteAddr: r.RemoteAddr, Identity: id}, topic, r.URL.Query().Get("since"), limit)
	if err != nil {
		publishRefused(w, err)
		return
	}
	body := historyBody{Topic: topic, Messages: make([]json.RawMessage, 0, len(res.Msgs))}
	if top, ok := res.Tops[topic]; ok {
		body.Seq = top.Seq
		body.Epoch = history.FormatEpoch(top.Epoch)
	}
	for _, m := range res.Msgs {
		body.Messages = append(body.Messages, frames.Get(&m.Frames, f.formats.json, m, encodeMessage))
	}
	for _, g := range res.Gaps {
		gap := session.Gap{Topic: g.Topic, Missed: g.Missed, Lost: g.Lost}
		body.Gaps = append(body.Gaps, historyGap{Topic: g.Topic, Missed: g.Missed, Lost: g.Lost, Text: gap.Text()})
	}
	writeJSON(w, http.StatusOK, body)
}
