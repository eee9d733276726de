package democrm

import (
	"net/http"
	"testing"
	"time"
)

// The expansion of a series is bounded as "Recurring appointment partial
// expansion model" describes it: a daily series without end, created with
// the clock at 2026-06-01, has its instances from 12 months before to 12
// months after now (the series starts 2026-05-01: 397 of them, to 2027-06-01), and is
// marked partially expanded with the next instance to expand.
func TestExpansionWindow(t *testing.T) {
	clock := &manualClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	env := newEnv(t, Options{Now: clock.Now})
	a := env.call("POST", "recurringappointmentmasters", nil, map[string]any{
		"activityid": "5e6f7a8b-0002-4c2d-9e3f-000000000001", "subject": "Daily",
		"recurrencepatterntype": 0, "interval": 1, "patternendtype": 1,
		"starttime": "2026-05-01T08:00:00Z", "endtime": "2026-05-01T08:15:00Z", "duration": 15,
	})
	mustStatus(t, "create", a, http.StatusNoContent)
	a = env.call("GET", "appointments?$select=originalstartdate&$filter=seriesid eq 5e6f7a8b-0002-4c2d-9e3f-000000000001&$orderby=originalstartdate", nil, nil)
	mustStatus(t, "instances", a, http.StatusOK)
	vals := a.json(t)["value"].([]any)
	first, last := vals[0].(map[string]any)["originalstartdate"], vals[len(vals)-1].(map[string]any)["originalstartdate"]
	if len(vals) != 397 || first != "2026-05-01T08:00:00Z" || last != "2027-06-01T08:00:00Z" {
		t.Errorf("expanded %d instances, %v … %v; want 397, 2026-05-01T08:00:00Z … 2027-06-01T08:00:00Z", len(vals), first, last)
	}
	m := env.call("GET", "recurringappointmentmasters(5e6f7a8b-0002-4c2d-9e3f-000000000001)?$select=expansionstatecode,nextexpansioninstancedate", nil, nil).json(t)
	if m["expansionstatecode"] != float64(1) || m["nextexpansioninstancedate"] != "2027-06-02T08:00:00Z" {
		t.Errorf("master after a partial expansion: %v", m)
	}
}

// Change tracking reports what the series does to its instances: their
// creation, an instance deleted (a $deletedEntity, and the master changed
// for its deletedexceptionslist), and a new pattern (old instances
// deleted, new ones created, the ones at the same start under the same id).
func TestSeriesChangeTracking(t *testing.T) {
	env := newEnv(t, Options{})
	const series = "5e6f7a8b-0003-4c2d-9e3f-000000000001"
	mustStatus(t, "create", env.call("POST", "recurringappointmentmasters", nil, map[string]any{
		"activityid": series, "subject": "Weekly", "recurrencepatterntype": 1, "interval": 1, "daysofweekmask": 2,
		"patternendtype": 2, "occurrences": 3,
		"starttime": "2026-12-07T09:00:00Z", "endtime": "2026-12-07T10:00:00Z", "duration": 60,
	}), http.StatusNoContent)
	track := map[string]string{"Prefer": "odata.track-changes"}
	deltas := func(set string) string {
		a := env.call("GET", set+"?$select=activityid", track, nil)
		mustStatus(t, "track "+set, a, http.StatusOK)
		return a.json(t)["@odata.deltaLink"].(string)
	}
	apptDelta, masterDelta := deltas("appointments"), deltas("recurringappointmentmasters")
	ids := func() map[string]string { // originalstartdate → id
		a := env.call("GET", "appointments?$select=originalstartdate&$filter=seriesid eq "+series, nil, nil)
		out := map[string]string{}
		for _, v := range a.json(t)["value"].([]any) {
			m := v.(map[string]any)
			out[m["originalstartdate"].(string)] = m["activityid"].(string)
		}
		return out
	}
	before := ids()
	if len(before) != 3 {
		t.Fatalf("instances %v", before)
	}
	gone := before["2026-12-14T09:00:00Z"]
	mustStatus(t, "delete instance", env.call("DELETE", "appointments("+gone+")", nil, nil), http.StatusNoContent)
	changes := func(link string) (changed, deleted []string, next string) {
		a := env.call("GET", link, nil, nil)
		mustStatus(t, "delta", a, http.StatusOK)
		m := a.json(t)
		for _, v := range m["value"].([]any) {
			e := v.(map[string]any)
			if id, ok := e["id"].(string); ok && e["reason"] == "deleted" {
				deleted = append(deleted, id)
			} else {
				changed = append(changed, e["activityid"].(string))
			}
		}
		return changed, deleted, m["@odata.deltaLink"].(string)
	}
	changed, deleted, apptDelta := changes(apptDelta)
	if len(changed) != 0 || len(deleted) != 1 || deleted[0] != gone {
		t.Errorf("appointment feed after an instance deletion: changed %v, deleted %v; want deleted [%s]", changed, deleted, gone)
	}
	changed, _, masterDelta = changes(masterDelta)
	if len(changed) != 1 || changed[0] != series {
		t.Errorf("master feed after an instance deletion: changed %v, want the master (deletedexceptionslist)", changed)
	}

	// A new pattern: Mondays and Wednesdays, three occurrences.
	mustStatus(t, "new pattern", env.call("PATCH", "recurringappointmentmasters("+series+")", map[string]string{"If-Match": "*"},
		map[string]any{"daysofweekmask": 2 | 8}), http.StatusNoContent)
	after := ids()
	want := []string{"2026-12-07T09:00:00Z", "2026-12-09T09:00:00Z", "2026-12-14T09:00:00Z"}
	for _, w := range want {
		if after[w] == "" {
			t.Errorf("after the new pattern, no instance at %s: %v", w, after)
		}
	}
	if after["2026-12-07T09:00:00Z"] != before["2026-12-07T09:00:00Z"] || after["2026-12-14T09:00:00Z"] != gone {
		t.Errorf("an occurrence expanded again must keep its id: before %v, after %v", before, after)
	}
	changed, deleted, _ = changes(apptDelta)
	if len(changed) != 3 || len(deleted) != 1 || deleted[0] != before["2026-12-21T09:00:00Z"] {
		t.Errorf("appointment feed after a new pattern: changed %v, deleted %v; want 3 changed and the 21st deleted", changed, deleted)
	}
	if m := env.call("GET", "recurringappointmentmasters("+series+")?$select=deletedexceptionslist", nil, nil).json(t); m["deletedexceptionslist"] != nil {
		t.Errorf("a new pattern starts with no deleted exceptions: %v", m)
	}
	_ = masterDelta
}
