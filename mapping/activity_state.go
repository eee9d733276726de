package mapping

import (
	"strconv"
	"strings"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// States. STATUS (RFC 5545 §3.8.1.11) says the class of an activity's
// statecode/statuscode; each class has the codes it reads as by default, and
// codes that are not their class's default are kept, exactly, in
// X-CRMDAV-STATE:<statecode>/<statuscode> beside STATUS. A client's STATUS
// always wins: X-CRMDAV-STATE counts only while its codes fall in the class
// STATUS names.

// stateClass is the class of STATUS value v in a component of kind k.
func stateClass(k crmclient.Kind, v string) string {
	v = strings.ToUpper(strings.TrimSpace(v))
	switch componentOf(k) {
	case ical.CompEvent:
		switch v {
		case "TENTATIVE", "CONFIRMED", "CANCELLED":
			return v
		}
	case ical.CompToDo:
		switch v {
		case "IN-PROCESS", "COMPLETED", "CANCELLED":
			return v
		}
	case ical.CompJournal:
		switch v {
		case "DRAFT", "FINAL", "CANCELLED":
			return v
		}
	}
	return ""
}

// codesClass is the class of CRM codes; pct is a task's percentcomplete.
func codesClass(k crmclient.Kind, state, status, pct string) string {
	switch componentOf(k) {
	case ical.CompEvent:
		switch {
		case state == "2":
			return "CANCELLED"
		case state == "3":
			return "CONFIRMED"
		case state == "0" && status == "2":
			return "TENTATIVE"
		}
	case ical.CompToDo:
		switch {
		case state == "1":
			return "COMPLETED"
		case state == "2":
			return "CANCELLED"
		case k == crmclient.Task && state == "0" && (status == "3" || pct != "" && pct != "0"):
			return "IN-PROCESS"
		}
	case ical.CompJournal:
		switch state {
		case "0":
			return "DRAFT"
		case "1":
			return "FINAL"
		case "2":
			return "CANCELLED"
		}
	}
	return ""
}

// stateDefaults are the codes each class reads as, by kind (Dataverse
// statecode/statuscode of the entity).
var stateDefaults = map[crmclient.Kind]map[string][2]string{
	crmclient.Appointment: {"": {"0", "1"}, "TENTATIVE": {"0", "2"}, "CONFIRMED": {"3", "5"}, "CANCELLED": {"2", "4"}},
	crmclient.Task:        {"": {"0", "2"}, "IN-PROCESS": {"0", "3"}, "COMPLETED": {"1", "5"}, "CANCELLED": {"2", "6"}},
	crmclient.PhoneCall:   {"": {"0", "1"}, "IN-PROCESS": {"0", "1"}, "COMPLETED": {"1", "2"}, "CANCELLED": {"2", "3"}},
	crmclient.Letter:      {"": {"0", "1"}, "IN-PROCESS": {"0", "1"}, "COMPLETED": {"1", "4"}, "CANCELLED": {"2", "5"}},
	crmclient.Fax:         {"": {"0", "1"}, "IN-PROCESS": {"0", "1"}, "COMPLETED": {"1", "2"}, "CANCELLED": {"2", "5"}},
	crmclient.Email:       {"": {"", ""}, "DRAFT": {"0", "1"}, "FINAL": {"1", "3"}, "CANCELLED": {"2", "5"}},
}

func stateDefault(k crmclient.Kind, class string) (string, string) {
	if k == crmclient.RecurringAppointment {
		k = crmclient.Appointment
	}
	d := stateDefaults[k][class]
	return d[0], d[1]
}

func readState(c *ical.Component, k crmclient.Kind, pct string) (string, string) {
	class := stateClass(k, propValue(c, ical.PropStatus))
	if p := c.Props.Get(propState); p != nil {
		if s, st, ok := strings.Cut(icalUnescape(p.Value), "/"); ok && codesClass(k, s, st, pct) == class {
			return s, st
		}
	}
	return stateDefault(k, class)
}

// statusText is the STATUS written for a class; "" removes STATUS.
func statusText(k crmclient.Kind, class string) string {
	if class == "" && componentOf(k) == ical.CompToDo {
		return "NEEDS-ACTION"
	}
	return class
}

// writeState makes readState give state and status: STATUS changes only when
// its class does, X-CRMDAV-STATE is there only when the codes are not their
// class's default.
func writeState(c *ical.Component, k crmclient.Kind, state, status, pct string) {
	class := codesClass(k, state, status, pct)
	if stateClass(k, propValue(c, ical.PropStatus)) != class {
		if v := statusText(k, class); v == "" {
			delete(c.Props, ical.PropStatus)
		} else {
			setText(c, ical.PropStatus, v)
		}
	}
	if s, st := stateDefault(k, class); s == state && st == status {
		delete(c.Props, propState)
		return
	}
	setText(c, propState, state+"/"+status)
}

// percentValue is the PERCENT-COMPLETE of a percentcomplete column.
func percentValue(col string) string {
	n, err := strconv.Atoi(strings.TrimSpace(col))
	if err != nil {
		return ""
	}
	return strconv.Itoa(n)
}
