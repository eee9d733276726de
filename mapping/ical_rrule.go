package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/teambition/rrule-go"
)

// patternCols are the recurringappointmentmaster columns of the pattern, which
// map to RRULE (RFC 5545 §3.3.10, §3.8.5.3) and nothing else.
var patternCols = []string{
	"recurrencepatterntype", "interval", "daysofweekmask", "dayofmonth", "instance",
	"monthofyear", "firstdayofweek", "isnthmonthly", "isnthyearly", "isweekdaypattern",
	"patternendtype", "occurrences", "patternenddate",
}

// Dataverse recurrencepatterntype and patternendtype.
const (
	patternDaily   = "0"
	patternWeekly  = "1"
	patternMonthly = "2"
	patternYearly  = "3"

	endNone  = "1"
	endCount = "2"
	endDate  = "3"
)

// dayCodes are RFC 5545 weekdays by time.Weekday; daysofweekmask has bit
// 1<<Weekday (Sunday 0x01 … Saturday 0x40) and firstdayofweek is the
// Weekday (0 Sunday … 6 Saturday).
var dayCodes = [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

const weekdaysMask = 0x3e // Monday to Friday

func weekday(code string) (time.Weekday, bool) {
	for i, c := range dayCodes {
		if strings.EqualFold(c, code) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// recur is an RRULE value split into its parts.
type recur struct {
	freq       string
	interval   int
	count      int
	until      string
	byday      []nthDay
	bymonthday []int
	bymonth    []int
	bysetpos   []int
	wkst       string
	other      []string // parts the CRM has no column for
}

type nthDay struct {
	n  int // 0: every such day
	wd time.Weekday
}

func parseRecur(v string) recur {
	r := recur{interval: 1}
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if part != "" {
				r.other = append(r.other, part)
			}
			continue
		}
		k = strings.ToUpper(k)
		val = strings.TrimSpace(val)
		var err error
		switch k {
		case "FREQ":
			r.freq = strings.ToUpper(val)
		case "INTERVAL":
			r.interval, err = strconv.Atoi(val)
			if err == nil && r.interval < 1 {
				err = fmt.Errorf("interval %d", r.interval)
			}
			if err != nil {
				r.interval = 1
			}
		case "COUNT":
			r.count, err = strconv.Atoi(val)
			if err == nil && r.count < 1 {
				err = fmt.Errorf("count %d", r.count)
			}
			if err != nil {
				r.count = 0
			}
		case "UNTIL":
			r.until = val
		case "BYDAY":
			for _, d := range strings.Split(val, ",") {
				d = strings.TrimSpace(d)
				if len(d) < 2 {
					err = fmt.Errorf("BYDAY %q", d)
					continue
				}
				wd, ok := weekday(d[len(d)-2:])
				n := 0
				if p := d[:len(d)-2]; p != "" {
					n, err = strconv.Atoi(strings.TrimPrefix(p, "+"))
				}
				if !ok || err != nil {
					err = fmt.Errorf("BYDAY %q", d)
					continue
				}
				r.byday = append(r.byday, nthDay{n, wd})
			}
		case "BYMONTHDAY":
			r.bymonthday, err = ints(val)
		case "BYMONTH":
			r.bymonth, err = ints(val)
		case "BYSETPOS":
			r.bysetpos, err = ints(val)
		case "WKST":
			r.wkst = strings.ToUpper(val)
		default:
			r.other = append(r.other, k)
		}
		if err != nil {
			r.other = append(r.other, k+"="+val)
		}
	}
	return r
}

func ints(v string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(s), "+"))
		if err != nil {
			return out, err
		}
		out = append(out, n)
	}
	return out, nil
}

func maskOf(days []nthDay) int {
	m := 0
	for _, d := range days {
		m |= 1 << d.wd
	}
	return m
}

// instanceOf is Dataverse's instance (1–4, 5 = last) for an RFC 5545 ordinal.
func instanceOf(n int, note func(string, ...any)) string {
	switch {
	case n >= 1 && n <= 4:
		return strconv.Itoa(n)
	case n == -1:
		return "5"
	case n == 5:
		note("the 5th weekday of a month is read as the last")
		return "5"
	}
	note("ordinal %d is not representable; read as the last", n)
	return "5"
}

// patternColumns maps an RRULE to the pattern columns. start is DTSTART as
// wall clock; untilDate turns UNTIL into the local date it falls on. What the
// CRM cannot hold is read as the nearest pattern and reported through note.
func patternColumns(v string, start time.Time, untilDate func(string) (time.Time, bool), note func(string, ...any)) crmclient.Columns {
	r := parseRecur(v)
	c := crmclient.Columns{}
	for _, k := range patternCols {
		c[k] = ""
	}
	c["isnthmonthly"], c["isnthyearly"], c["isweekdaypattern"] = "false", "false", "false"
	for _, o := range r.other {
		note("RRULE part %s is not representable", o)
	}
	interval := r.interval
	// nth sets instance and daysofweekmask from BYDAY with an ordinal or
	// BYDAY with BYSETPOS; it reports false when the rule has neither.
	nth := func() bool {
		if len(r.byday) == 0 {
			return false
		}
		if len(r.bysetpos) > 0 {
			if len(r.bysetpos) > 1 {
				note("several BYSETPOS values are not representable; the first is kept")
			}
			for _, d := range r.byday {
				if d.n != 0 {
					note("BYDAY ordinals with BYSETPOS are not representable")
					break
				}
			}
			c["instance"] = instanceOf(r.bysetpos[0], note)
			c["daysofweekmask"] = strconv.Itoa(maskOf(r.byday))
			return true
		}
		n := r.byday[0].n
		for _, d := range r.byday[1:] {
			if d.n != n {
				note("BYDAY with different ordinals is not representable")
				break
			}
		}
		if n == 0 {
			return false
		}
		if len(r.byday) > 1 {
			note("several BYDAY days with an ordinal are not representable")
		}
		c["instance"] = instanceOf(n, note)
		c["daysofweekmask"] = strconv.Itoa(maskOf(r.byday))
		return true
	}
	dayOfMonth := func() {
		d := start.Day()
		if len(r.bymonthday) > 0 {
			d = r.bymonthday[0]
			if len(r.bymonthday) > 1 {
				note("several BYMONTHDAY values are not representable; the first is kept")
			}
			switch {
			case d == -1:
				note("BYMONTHDAY=-1 (last day) is read as day 31")
				d = 31
			case d < 1 || d > 31:
				note("BYMONTHDAY=%d is not representable", d)
				d = start.Day()
			}
		}
		c["dayofmonth"] = strconv.Itoa(d)
	}
	weekly := func() {
		c["recurrencepatterntype"] = patternWeekly
		m := maskOf(r.byday)
		for _, d := range r.byday {
			if d.n != 0 {
				note("BYDAY ordinals in a weekly rule are not representable")
				break
			}
		}
		if m == 0 {
			m = 1 << start.Weekday()
		}
		c["daysofweekmask"] = strconv.Itoa(m)
	}
	if len(r.bysetpos) > 0 && (r.freq != "MONTHLY" && r.freq != "YEARLY" || len(r.byday) == 0) {
		note("BYSETPOS is representable only with BYDAY in a monthly or yearly rule")
	}
	switch r.freq {
	case "DAILY":
		c["recurrencepatterntype"] = patternDaily
		if len(r.byday) > 0 {
			switch {
			case interval == 1 && maskOf(r.byday) == weekdaysMask:
				c["isweekdaypattern"] = "true"
			case interval == 1:
				weekly() // every day among BYDAY is that weekly pattern
			default:
				note("FREQ=DAILY with BYDAY and INTERVAL=%d is read as weekly", interval)
				weekly()
				interval = 1
			}
		}
		if len(r.bymonthday)+len(r.bymonth) > 0 {
			note("BYMONTHDAY or BYMONTH in a daily rule is not representable")
		}
	case "WEEKLY":
		weekly()
		if len(r.bymonthday)+len(r.bymonth) > 0 {
			note("BYMONTHDAY or BYMONTH in a weekly rule is not representable")
		}
	case "MONTHLY":
		c["recurrencepatterntype"] = patternMonthly
		switch {
		case len(r.bymonthday) > 0:
			if len(r.byday) > 0 {
				note("BYDAY with BYMONTHDAY is not representable; BYDAY is dropped")
			}
			dayOfMonth()
		case nth():
			c["isnthmonthly"] = "true"
		case len(r.byday) > 0:
			note("every %s of the month is read as weekly", strings.Join(dayNames(r.byday), ","))
			weekly()
			interval = 1
		default:
			dayOfMonth()
		}
		if len(r.bymonth) > 0 {
			note("BYMONTH in a monthly rule is not representable")
		}
	case "YEARLY":
		c["recurrencepatterntype"] = patternYearly
		m := int(start.Month())
		if len(r.bymonth) > 0 {
			m = r.bymonth[0]
			if len(r.bymonth) > 1 {
				note("several BYMONTH values are not representable; the first is kept")
			}
			if m < 1 || m > 12 {
				note("BYMONTH=%d is not representable", m)
				m = int(start.Month())
			}
		}
		c["monthofyear"] = strconv.Itoa(m)
		switch {
		case len(r.bymonthday) > 0:
			if len(r.byday) > 0 {
				note("BYDAY with BYMONTHDAY is not representable; BYDAY is dropped")
			}
			dayOfMonth()
		case nth():
			c["isnthyearly"] = "true"
		case len(r.byday) > 0:
			note("every %s of a month in a yearly rule is not representable", strings.Join(dayNames(r.byday), ","))
			dayOfMonth()
		default:
			dayOfMonth()
		}
	default:
		note("FREQ=%s is not representable; read as daily", r.freq)
		c["recurrencepatterntype"] = patternDaily
		interval = 1
	}
	c["interval"] = strconv.Itoa(interval)
	switch {
	case r.count > 0:
		if r.until != "" {
			note("COUNT and UNTIL together; COUNT is kept")
		}
		c["patternendtype"], c["occurrences"] = endCount, strconv.Itoa(r.count)
	case r.until != "":
		if d, ok := untilDate(r.until); ok {
			c["patternendtype"], c["patternenddate"] = endDate, columnTime(d)
		} else {
			note("UNTIL=%s is not a date; read as no end", r.until)
			c["patternendtype"] = endNone
		}
	default:
		c["patternendtype"] = endNone
	}
	if r.wkst != "" {
		if wd, ok := weekday(r.wkst); ok {
			c["firstdayofweek"] = strconv.Itoa(int(wd))
		}
	}
	return c
}

func dayNames(days []nthDay) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = dayCodes[d.wd]
	}
	return out
}

// ruleValue writes the pattern columns as an RRULE value. until writes the
// UNTIL of a patternenddate (its local date) in the form DTSTART needs
// (RFC 5545 §3.3.10: a DATE for a DATE DTSTART, UTC for a zoned one).
func ruleValue(c crmclient.Columns, until func(time.Time) string) string {
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	interval := func() {
		if n, err := strconv.Atoi(c["interval"]); err == nil && n > 1 {
			add("INTERVAL", strconv.Itoa(n))
		}
	}
	days := func(mask int, n string) string {
		var out []string
		for _, wd := range []time.Weekday{1, 2, 3, 4, 5, 6, 0} {
			if mask&(1<<wd) != 0 {
				out = append(out, n+dayCodes[wd])
			}
		}
		return strings.Join(out, ",")
	}
	mask, _ := strconv.Atoi(c["daysofweekmask"])
	mask &= 0x7f
	nth := func() {
		n := c["instance"]
		if n == "5" {
			n = "-1"
		}
		if mask&(mask-1) == 0 && mask != 0 {
			add("BYDAY", days(mask, n))
			return
		}
		if mask != 0 {
			add("BYDAY", days(mask, ""))
		}
		add("BYSETPOS", n)
	}
	monthDay := func() {
		if c["dayofmonth"] != "" {
			add("BYMONTHDAY", c["dayofmonth"])
		}
	}
	switch c["recurrencepatterntype"] {
	case patternWeekly:
		add("FREQ", "WEEKLY")
		interval()
		if mask != 0 {
			add("BYDAY", days(mask, ""))
		}
	case patternMonthly:
		add("FREQ", "MONTHLY")
		interval()
		if c["isnthmonthly"] == "true" {
			nth()
		} else {
			monthDay()
		}
	case patternYearly:
		add("FREQ", "YEARLY")
		interval()
		if c["monthofyear"] != "" {
			add("BYMONTH", c["monthofyear"])
		}
		if c["isnthyearly"] == "true" {
			nth()
		} else {
			monthDay()
		}
	default:
		add("FREQ", "DAILY")
		if c["isweekdaypattern"] == "true" {
			add("BYDAY", days(weekdaysMask, ""))
		} else {
			interval()
		}
	}
	switch c["patternendtype"] {
	case endCount:
		if c["occurrences"] != "" {
			add("COUNT", c["occurrences"])
		}
	case endDate:
		if t, ok := parseColumnTime(c["patternenddate"]); ok {
			add("UNTIL", until(t))
		}
	}
	if n, err := strconv.Atoi(c["firstdayofweek"]); err == nil && n >= 0 && n < 7 {
		add("WKST", dayCodes[n])
	}
	return strings.Join(parts, ";")
}

// Bounds of the expansion behind Activity.End: a rule is expanded only at a
// day's granularity or coarser, over at most maxYears and maxOccurrences;
// beyond that the series counts as unbounded, which only widens the span.
const (
	maxYears       = 200
	maxOccurrences = 100000
)

// lastStart is the wall-clock start of the last instance of the rule v from
// start, with until the wall-clock time UNTIL stands for; ok is false for a
// series without end (or one too long to expand).
func lastStart(v string, start time.Time, until func(string) (time.Time, bool)) (last time.Time, ok bool) {
	defer func() {
		if recover() != nil {
			last, ok = time.Time{}, false
		}
	}()
	r := parseRecur(v)
	switch r.freq {
	case "YEARLY", "MONTHLY", "WEEKLY", "DAILY":
	default:
		return time.Time{}, false
	}
	if r.count == 0 && r.until == "" {
		return time.Time{}, false
	}
	opt, err := rrule.StrToROption(v)
	if err != nil {
		return time.Time{}, false
	}
	opt.Dtstart = start
	limit := start.AddDate(maxYears, 0, 0)
	opt.Until = limit
	if r.count == 0 {
		u, ok := until(r.until)
		if !ok {
			return time.Time{}, false
		}
		if u.Before(limit) {
			opt.Until = u
		}
	}
	rule, err := rrule.NewRRule(*opt)
	if err != nil {
		return time.Time{}, false
	}
	next := rule.Iterator()
	n := 0
	for {
		t, more := next()
		if !more {
			break
		}
		last, n = t, n+1
		if n >= maxOccurrences {
			return time.Time{}, false
		}
	}
	if n == 0 {
		return start, true
	}
	if r.count > 0 && n < r.count && !last.Before(limit.AddDate(-1, 0, 0)) {
		return time.Time{}, false // cut at the limit
	}
	if r.count == 0 && !opt.Until.Before(limit) {
		return time.Time{}, false
	}
	return last, true
}
