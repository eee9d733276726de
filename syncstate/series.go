package syncstate

import (
	"github.com/crmdav/crmdav/crmclient"
)

// Dataverse keeps the occurrences of a recurring series as appointments
// with seriesid (the master), originalstartdate and instancetypecode 2
// (instance) or 3 (exception). The client sees the exceptions as
// overridden instances (RECURRENCE-ID components) and deleted instances
// (EXDATE) of the master's object; exceptions.go synchronizes them.
const instanceException = "3"

// isInstance reports whether rec is an instance or exception of a series.
func isInstance(rec crmclient.Record) bool {
	return rec.Kind == crmclient.Appointment && rec.Columns["seriesid"] != ""
}
