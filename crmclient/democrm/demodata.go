package democrm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// Demo describes the demo data Seed makes.
type Demo struct {
	Users    int       // people: alice, bob, carol, … (3)
	Contacts int       // contacts per user (20)
	Now      time.Time // dates are spread around it (time.Now)
	Seed     uint64    // the same seed makes the same data
	// Appointments and Series are more appointments per user, beyond the
	// demo's own handful (for load tests): single appointments, and
	// recurring masters (weekly or monthly, ending by count, by date or
	// not at all), starting within a year before or after Now. Both are 0 unless set.
	// These masters are not expanded into instances (expansionstatecode 0,
	// as before Dataverse's asynchronous expansion has run), so that load
	// tests measure the calendar, not the instances.
	Appointments int
	Series       int
}

var demoUserNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter"}

var firstNames = []string{"Anna", "Ben", "Chloe", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Katrin", "Lukas", "Maria", "Noah", "Olga", "Paul", "Rosa", "Simon", "Tara", "Umar", "Vera", "Wim", "Xenia", "Yusuf", "Zoe"}
var lastNames = []string{"Andersen", "Bauer", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Hoffmann", "Ivanova", "Jansen", "Kowalski", "Larsen", "Müller", "Novak", "O'Brien", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka", "Ulrich", "Varga", "Weber", "Yilmaz", "Zimmermann"}
var jobTitles = []string{"Purchasing Manager", "CFO", "Head of IT", "Sales Director", "Office Manager", "Procurement Lead", "CEO", "Project Manager", "Operations Manager", "Buyer"}
var cities = []struct{ city, state, zip, country string }{
	{"Berlin", "", "10115", "Germany"}, {"Lyon", "", "69002", "France"}, {"Seattle", "WA", "98101", "USA"},
	{"Utrecht", "", "3511", "Netherlands"}, {"Graz", "", "8010", "Austria"}, {"Leeds", "", "LS1 4AP", "United Kingdom"},
}
var streets = []string{"Hauptstraße", "Rue de la République", "Pine Street", "Oudegracht", "Herrengasse", "Park Row"}
var meetingTopics = []string{"Quarterly review", "Product demo", "Contract negotiation", "Kick-off", "Pricing discussion", "Onboarding", "Renewal planning", "Site visit"}
var taskTopics = []string{"Send proposal", "Prepare quote", "Update forecast", "Follow up on invoice", "Book venue", "Review contract draft"}

// UserName is the sign-in name of demo user name.
func UserName(name string) string { return name + "@crmdav.demo" }

// Seed makes demo users and, for each, contacts, single and recurring
// appointments (with exceptions, some with other users as attendees),
// tasks, phone calls, letters, faxes and e-mails dated around d.Now. It
// makes the users only once: data that exists is left as it is.
func (s *Server) Seed(d Demo) ([]crmclient.User, error) {
	if d.Users <= 0 {
		d.Users = 3
	}
	d.Contacts, d.Appointments, d.Series = max(d.Contacts, 0), max(d.Appointments, 0), max(d.Series, 0)
	if d.Now.IsZero() {
		d.Now = s.opts.Now()
	}
	d.Now = d.Now.UTC().Truncate(time.Hour)
	var users []crmclient.User
	fresh := []bool{}
	for i := range d.Users {
		name := fmt.Sprintf("user%d", i+1)
		if i < len(demoUserNames) {
			name = demoUserNames[i]
		}
		existing, err := s.userBy("domainname", UserName(name))
		if err != nil {
			return nil, err
		}
		u, err := s.AddUser(UserName(name), strings.ToUpper(name[:1])+name[1:], "Demo")
		if err != nil {
			return nil, err
		}
		users = append(users, u)
		fresh = append(fresh, existing == nil)
	}
	for i, u := range users {
		if !fresh[i] {
			continue
		}
		g := &demoGen{s: s, d: d, user: u, users: users,
			rnd: rand.New(rand.NewPCG(d.Seed, uint64(i)+1)), ns: uuid.NewSHA1(metadataNS, []byte(fmt.Sprint("demo", d.Seed, u.ID)))}
		if err := s.st.write(g.run); err != nil {
			return nil, fmt.Errorf("democrm: demo data for %s: %w", u.DomainName, err)
		}
	}
	return users, nil
}

type demoGen struct {
	s     *Server
	d     Demo
	user  crmclient.User
	users []crmclient.User
	rnd   *rand.Rand
	ns    uuid.UUID
	n     int
	tx    *gorm.DB
	// contacts made so far, as parties for activities
	contacts []*row
}

func (g *demoGen) id() string {
	g.n++
	return uuid.NewSHA1(g.ns, []byte(fmt.Sprint(g.n))).String()
}

func (g *demoGen) pick(list []string) string { return list[g.rnd.IntN(len(list))] }

func num(n int) json.Number { return json.Number(fmt.Sprint(n)) }

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// put writes a row owned by the generator's user with the defaults a
// create through the Web API would give it.
func (g *demoGen) put(entity string, fields map[string]any, parties []partyIn) (*row, error) {
	e := g.s.schema.byName[entity]
	now := g.s.now()
	rw := &row{entity: e, id: g.id(), owner: g.user.ID, created: now, modified: now, data: map[string]any{}}
	fs := rw.fields()
	for _, a := range e.attrs {
		if a.def != nil {
			fs[a.readName()] = a.def
		}
	}
	fs["_createdby_value"] = g.user.ID
	caller := &caller{app: &appClient{userID: g.user.ID}}
	g.s.apply(rw, &change{fields: fields}, caller, now)
	if err := g.s.st.put(g.tx, rw); err != nil {
		return nil, err
	}
	if parties != nil {
		if err := g.s.writeParties(g.tx, rw, parties, now); err != nil {
			return nil, err
		}
	}
	return rw, nil
}

// exception makes the instance of series at orig an exception with fields,
// as an update through the Web API would.
func (g *demoGen) exception(series *row, orig time.Time, fields map[string]any) error {
	var m rowModel
	err := g.tx.Where("entity = ? AND id = ?", "appointment", instanceID(series.id, orig)).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // outside the expansion window
	}
	if err != nil {
		return err
	}
	r, err := g.s.st.decode(&m)
	if err != nil {
		return err
	}
	ch := &change{fields: fields}
	g.s.apply(r, ch, &caller{app: &appClient{userID: g.user.ID}}, g.s.now())
	beforeUpdate(r, ch)
	return g.s.st.put(g.tx, r)
}

func (g *demoGen) me(role crmclient.Role) partyIn {
	return partyIn{mask: int64(role), kind: "systemuser", id: g.user.ID, address: g.user.Email}
}

func (g *demoGen) someContact(role crmclient.Role) []partyIn {
	if len(g.contacts) == 0 {
		return nil
	}
	c := g.contacts[g.rnd.IntN(len(g.contacts))]
	mail, _ := c.fields()["emailaddress1"].(string)
	return []partyIn{{mask: int64(role), kind: "contact", id: c.id, address: mail}}
}

// day is a working-day time around now: offset days, at hour.
func (g *demoGen) day(offset, hour int) time.Time {
	t := g.d.Now.Truncate(24*time.Hour).AddDate(0, 0, offset).Add(time.Duration(hour) * time.Hour)
	switch t.Weekday() {
	case time.Saturday:
		t = t.AddDate(0, 0, 2)
	case time.Sunday:
		t = t.AddDate(0, 0, 1)
	}
	return t
}

func (g *demoGen) run(tx *gorm.DB) error {
	g.tx = tx
	for range g.d.Contacts {
		first, last := g.pick(firstNames), g.pick(lastNames)
		c := cities[g.rnd.IntN(len(cities))]
		mail := strings.ToLower(strings.NewReplacer("í", "i", "ü", "ue", "'", "").Replace(first+"."+last)) + "@example.com"
		fields := map[string]any{
			"firstname": first, "lastname": last, "jobtitle": g.pick(jobTitles),
			"emailaddress1": mail, "telephone1": fmt.Sprintf("+49 30 %07d", g.rnd.IntN(10_000_000)),
			"mobilephone":    fmt.Sprintf("+49 170 %07d", g.rnd.IntN(10_000_000)),
			"address1_line1": fmt.Sprintf("%s %d", g.pick(streets), 1+g.rnd.IntN(120)),
			"address1_city":  c.city, "address1_postalcode": c.zip, "address1_country": c.country,
			"address1_stateorprovince": nilIfEmpty(c.state),
		}
		if g.rnd.IntN(3) == 0 {
			fields["birthdate"] = time.Date(1950+g.rnd.IntN(50), time.Month(1+g.rnd.IntN(12)), 1+g.rnd.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		}
		if g.rnd.IntN(4) == 0 {
			fields["description"] = "Met at the " + g.pick([]string{"trade fair", "partner summit", "webinar"}) + "."
		}
		rw, err := g.put("contact", fields, nil)
		if err != nil {
			return err
		}
		g.contacts = append(g.contacts, rw)
	}

	// Single appointments over two weeks back and four ahead; every third
	// one with another user as a required attendee.
	for i := range 12 {
		start := g.day(g.rnd.IntN(42)-14, 8+g.rnd.IntN(9))
		parties := append([]partyIn{g.me(crmclient.Organizer)}, g.someContact(crmclient.RequiredAttendee)...)
		if i%3 == 0 && len(g.users) > 1 {
			other := g.users[g.rnd.IntN(len(g.users))]
			if other.ID != g.user.ID {
				parties = append(parties, partyIn{mask: int64(crmclient.RequiredAttendee), kind: "systemuser", id: other.ID, address: other.Email})
			}
		}
		if _, err := g.put("appointment", map[string]any{
			"subject": g.pick(meetingTopics), "location": g.pick([]string{"Meeting room 1", "Online", "Customer site", "Café"}),
			"scheduledstart": iso(start), "scheduledend": iso(start.Add(time.Duration(30+30*g.rnd.IntN(4)) * time.Minute)),
			"description": "Agenda: status, next steps.", "prioritycode": num(1),
		}, parties); err != nil {
			return err
		}
	}
	// One all-day event.
	allDay := g.day(3, 0)
	if _, err := g.put("appointment", map[string]any{
		"subject": "Trade fair", "isalldayevent": true, "scheduledstart": iso(allDay), "scheduledend": iso(allDay.AddDate(0, 0, 1)),
	}, []partyIn{g.me(crmclient.Organizer)}); err != nil {
		return err
	}

	// Recurring series: a weekly meeting on Monday and Wednesday with one
	// moved instance, and a monthly review on the first Tuesday.
	weeklyStart := g.day(-21, 9)
	for weeklyStart.Weekday() != time.Monday {
		weeklyStart = weeklyStart.AddDate(0, 0, -1)
	}
	weekly, err := g.put("recurringappointmentmaster", map[string]any{
		"subject": "Team sync", "location": "Meeting room 2",
		"recurrencepatterntype": num(1), "interval": num(1), "daysofweekmask": num(0x02 | 0x08),
		"patternstartdate": iso(weeklyStart.Truncate(24 * time.Hour)), "patternendtype": num(1),
		"starttime": iso(weeklyStart), "endtime": iso(weeklyStart.Add(30 * time.Minute)), "duration": num(30),
		"firstdayofweek": num(1),
	}, []partyIn{g.me(crmclient.Organizer)})
	if err != nil {
		return err
	}
	// Expanded into instances as a create through the Web API would be;
	// the moved one is an exception (recurrence.go).
	if err := g.s.expand(g.tx, weekly, g.s.now()); err != nil {
		return err
	}
	moved := weeklyStart.AddDate(0, 0, 21) // the Monday this week
	if err := g.exception(weekly, moved, map[string]any{
		"subject": "Team sync (moved)", "scheduledstart": iso(moved.Add(2 * time.Hour)), "scheduledend": iso(moved.Add(2*time.Hour + 30*time.Minute)),
	}); err != nil {
		return err
	}
	monthlyStart := g.day(-60, 14)
	monthly, err := g.put("recurringappointmentmaster", map[string]any{
		"subject": "Monthly pipeline review", "location": "Online",
		"recurrencepatterntype": num(2), "interval": num(1), "daysofweekmask": num(0x04), "instance": num(1),
		"patternstartdate": iso(monthlyStart.Truncate(24 * time.Hour)), "patternendtype": num(2), "occurrences": num(12),
		"starttime": iso(monthlyStart), "endtime": iso(monthlyStart.Add(time.Hour)), "duration": num(60),
		"isnthmonthly": true,
	}, append([]partyIn{g.me(crmclient.Organizer)}, g.someContact(crmclient.OptionalAttendee)...))
	if err != nil {
		return err
	}
	if err := g.s.expand(g.tx, monthly, g.s.now()); err != nil {
		return err
	}

	// Tasks, some completed.
	for i := range 6 {
		due := g.day(g.rnd.IntN(20)-5, 17)
		f := map[string]any{"subject": g.pick(taskTopics), "scheduledend": iso(due), "prioritycode": num(g.rnd.IntN(3)),
			"percentcomplete": num(0), "description": "See the notes from the last call."}
		if i%3 == 0 {
			f["statecode"], f["statuscode"], f["percentcomplete"], f["actualend"] = num(1), num(5), num(100), iso(due.Add(-time.Hour))
		}
		if _, err := g.put("task", f, []partyIn{}); err != nil {
			return err
		}
	}
	for i := range 4 {
		when := g.day(g.rnd.IntN(14)-4, 10+g.rnd.IntN(6))
		contact := g.someContact(crmclient.ToRecipient)
		phone := ""
		if len(contact) > 0 {
			for _, c := range g.contacts {
				if c.id == contact[0].id {
					phone, _ = c.fields()["telephone1"].(string)
				}
			}
		}
		f := map[string]any{"subject": "Call about " + strings.ToLower(g.pick(meetingTopics)), "scheduledend": iso(when),
			"phonenumber": nilIfEmpty(phone), "directioncode": i%2 == 0}
		if i == 0 {
			f["statecode"], f["statuscode"], f["actualend"] = num(1), num(2), iso(when)
		}
		if _, err := g.put("phonecall", f, append([]partyIn{g.me(crmclient.Sender)}, contact...)); err != nil {
			return err
		}
	}
	for range 2 {
		if _, err := g.put("letter", map[string]any{"subject": "Offer letter", "scheduledend": iso(g.day(g.rnd.IntN(10), 12)),
			"address": "Hauptstraße 5\n10115 Berlin", "description": "Dear customer, …"},
			append([]partyIn{g.me(crmclient.Sender)}, g.someContact(crmclient.ToRecipient)...)); err != nil {
			return err
		}
	}
	if _, err := g.put("fax", map[string]any{"subject": "Signed order form", "faxnumber": "+49 30 1234567", "numberofpages": num(2),
		"scheduledend": iso(g.day(-2, 11))}, append([]partyIn{g.me(crmclient.Sender)}, g.someContact(crmclient.ToRecipient)...)); err != nil {
		return err
	}
	for i := range 3 {
		sent := g.day(-i-1, 9+i)
		to := g.someContact(crmclient.ToRecipient)
		addr := ""
		if len(to) > 0 {
			addr = to[0].address
		}
		if _, err := g.put("email", map[string]any{"subject": "Re: " + g.pick(meetingTopics), "description": "<p>Thanks for your time today.</p>",
			"sender": g.user.Email, "torecipients": nilIfEmpty(addr), "senton": iso(sent), "actualend": iso(sent),
			"statecode": num(1), "statuscode": num(3)}, append([]partyIn{g.me(crmclient.Sender)}, to...)); err != nil {
			return err
		}
	}
	// The extra calendar of a load test, after the demo's own data so that
	// the same seed still makes the same demo.
	return g.calendar()
}

// calendar makes d.Appointments single appointments and d.Series
// recurring masters within a year before or after Now.
func (g *demoGen) calendar() error {
	for i := range g.d.Appointments {
		start := g.day(g.rnd.IntN(731)-365, 8+g.rnd.IntN(10)).Add(time.Duration(15*g.rnd.IntN(4)) * time.Minute)
		f := map[string]any{
			"subject": g.pick(meetingTopics), "location": g.pick([]string{"Meeting room 1", "Meeting room 2", "Online", "Customer site", "Café"}),
			"scheduledstart": iso(start), "scheduledend": iso(start.Add(time.Duration(30+15*g.rnd.IntN(7)) * time.Minute)),
			"prioritycode": num(g.rnd.IntN(3)),
		}
		if g.rnd.IntN(3) == 0 {
			f["description"] = "Agenda: " + strings.ToLower(g.pick(taskTopics)) + ", next steps."
		}
		if i%25 == 24 {
			day := start.Truncate(24 * time.Hour)
			f["isalldayevent"], f["scheduledstart"], f["scheduledend"] = true, iso(day), iso(day.AddDate(0, 0, 1+g.rnd.IntN(2)))
		}
		parties := []partyIn{g.me(crmclient.Organizer)}
		if g.rnd.IntN(2) == 0 {
			parties = append(parties, g.someContact(crmclient.RequiredAttendee)...)
		}
		if _, err := g.put("appointment", f, parties); err != nil {
			return err
		}
	}
	for i := range g.d.Series {
		start := g.day(g.rnd.IntN(731)-365, 8+g.rnd.IntN(10))
		minutes := 30 * (1 + g.rnd.IntN(3))
		f := map[string]any{
			"subject": g.pick(meetingTopics) + " (series)", "location": g.pick([]string{"Meeting room 2", "Online"}),
			"interval": num(1 + g.rnd.IntN(2)), "firstdayofweek": num(1),
			"patternstartdate": iso(start.Truncate(24 * time.Hour)),
			"starttime":        iso(start), "endtime": iso(start.Add(time.Duration(minutes) * time.Minute)), "duration": num(minutes),
		}
		weekly := i%3 != 2
		if weekly {
			// On the start's weekday, and now and then one more.
			mask := 1 << start.Weekday()
			if g.rnd.IntN(3) == 0 {
				mask |= 1 << (1 + g.rnd.IntN(5))
			}
			f["recurrencepatterntype"], f["daysofweekmask"] = num(1), num(mask)
		} else {
			f["recurrencepatterntype"], f["interval"] = num(2), num(1)
			if g.rnd.IntN(2) == 0 && start.Day() <= 28 {
				f["dayofmonth"] = num(start.Day())
			} else {
				// The nth weekday of the month; from the 29th on, the last.
				nth := (start.Day()-1)/7 + 1
				if start.Day() > 28 {
					nth = 5
				}
				f["isnthmonthly"], f["daysofweekmask"], f["instance"] = true, num(1<<start.Weekday()), num(nth)
			}
		}
		switch g.rnd.IntN(3) {
		case 0:
			f["patternendtype"] = num(1)
		case 1:
			f["patternendtype"], f["occurrences"] = num(2), num(6+g.rnd.IntN(30))
		default:
			f["patternendtype"], f["patternenddate"] = num(3), iso(start.Truncate(24*time.Hour).AddDate(0, 3+g.rnd.IntN(10), 0))
		}
		if _, err := g.put("recurringappointmentmaster", f, append([]partyIn{g.me(crmclient.Organizer)}, g.someContact(crmclient.OptionalAttendee)...)); err != nil {
			return err
		}
	}
	return nil
}
