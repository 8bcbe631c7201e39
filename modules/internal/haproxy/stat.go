package haproxy

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// Stat is a server row of "show stat".
type Stat struct {
	Backend     string
	Server      string
	Status      string // UP, DOWN, DRAIN, MAINT, no check, UP 1/3, ...
	CheckStatus string // L4OK, L7STS, ... without the "* " of a running check
	CheckDesc   string // "Layer4 connection problem"
	CheckInfo   string // last_chk: "Connection refused", "HTTP status check returned code <3C>503<3E>"
	CheckCode   string // check_code: the HTTP status of an L7 check, "500"
	CheckHealth int    // check_health: passed checks toward rise while DOWN ("DOWN 1/3")
	Sessions    int    // scur
	Queued      int    // qcur
	Total       int    // stot
	Weight      int    // effective weight

	// For deploy_watch: counters since HAProxy started, and averages.
	Mode       string // http or tcp
	Requests   int    // req_tot: HTTP requests (empty in tcp mode)
	Resp5xx    int    // hrsp_5xx
	RespErrors int    // eresp: responses cut or refused
	ConnErrors int    // econ: connections to the server that failed
	RespTime   int    // rtime: ms, averaged over the last 1024 responses
	CheckDowns int    // chkdown: UP to DOWN transitions
}

// Key is "backend/server".
func (s Stat) Key() string { return s.Backend + "/" + s.Server }

// Up reports whether the server is UP with its checks passed, or has no
// check. "UP 1/3" is not up: a server failing its checks, or one that left
// maintenance before its first check.
func (s Stat) Up() bool { return s.Status == "UP" || s.Status == "no check" }

// CheckFailed reports whether the last health check failed: a status
// other than the L4OK/L6OK/L7OK/L7OKC of a pass, INI (not run yet) or
// UNK/none (no check).
func (s Stat) CheckFailed() bool {
	switch s.CheckStatus {
	case "", "L4OK", "L6OK", "L7OK", "L7OKC", "INI", "UNK":
		return false
	}
	return true
}

// CheckReason is the last check's result in HAProxy's words: "L7STS/500",
// "L4CON", with its description and detail when given.
func (s Stat) CheckReason() string {
	r := s.CheckStatus
	if s.CheckCode != "" {
		r += "/" + s.CheckCode
	}
	var more []string
	for _, x := range []string{s.CheckDesc, s.CheckInfo} {
		if x != "" {
			more = append(more, x)
		}
	}
	if len(more) > 0 {
		r += " (" + strings.Join(more, ": ") + ")"
	}
	return r
}

// InMaint reports whether the server is in maintenance, its own or that of
// a server it tracks ("MAINT (via www/web0)").
func (s Stat) InMaint() bool { return strings.HasPrefix(s.Status, "MAINT") }

// Stats reads the server rows of "show stat" for all backends.
func (c *Client) Stats(ctx context.Context) ([]Stat, error) {
	out, err := c.Exec(ctx, "show stat -1 4 -1")
	if err != nil {
		return nil, err
	}
	return parseStat(out)
}

// parseStat parses "show stat" CSV by header name: columns are appended in
// newer versions.
func parseStat(out string) ([]Stat, error) {
	out = strings.TrimSpace(out)
	if !strings.HasPrefix(out, "# ") {
		return nil, fmt.Errorf("unexpected answer to `show stat`: %.200q", out)
	}
	r := csv.NewReader(strings.NewReader(out[2:]))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("cannot parse `show stat`: %v", err)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, need := range []string{"pxname", "svname", "scur", "qcur", "status", "type"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("`show stat` has no %s column", need)
		}
	}
	var stats []Stat
	for _, rec := range recs[1:] {
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		num := func(name string) int {
			n, _ := strconv.Atoi(get(name))
			return n
		}
		if get("type") != "2" {
			continue
		}
		stats = append(stats, Stat{
			Backend:     get("pxname"),
			Server:      get("svname"),
			Status:      get("status"),
			CheckStatus: strings.TrimPrefix(get("check_status"), "* "),
			CheckDesc:   get("check_desc"),
			CheckInfo:   get("last_chk"),
			CheckCode:   get("check_code"),
			CheckHealth: num("check_health"),
			Sessions:    num("scur"),
			Queued:      num("qcur"),
			Total:       num("stot"),
			Weight:      num("weight"),
			Mode:        get("mode"),
			Requests:    num("req_tot"),
			Resp5xx:     num("hrsp_5xx"),
			RespErrors:  num("eresp"),
			ConnErrors:  num("econ"),
			RespTime:    num("rtime"),
			CheckDowns:  num("chkdown"),
		})
	}
	return stats, nil
}
