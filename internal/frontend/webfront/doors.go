package webfront

import "net/http"

// serveDoors answers GET /api/doors with where the server's doors listen,
// {"tcp": "[::]:8082", "web": "127.0.0.1:8080"}, so that the chat app can
// tell terminal users the real `nc HOST PORT`. An address on all
// interfaces has an unspecified host ("[::]", "0.0.0.0"): a client then
// uses the host it reached the page on. A door that is off is left out.
func (f *Front) serveDoors(w http.ResponseWriter, _ *http.Request) {
	doors := struct {
		TCP string `json:"tcp,omitempty"`
		Web string `json:"web,omitempty"`
	}{TCP: f.cfg.LineAddr}
	if a := f.Addr(); a != nil {
		doors.Web = a.String()
	}
	writeJSON(w, http.StatusOK, doors)
}
