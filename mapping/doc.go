// Package mapping turns CRM records into vCards and iCalendar objects and back.
// Its functions are pure: they take values and return values, with no I/O, no
// clock and no state.
//
// # Contacts
//
// CardColumns reads the columns of a Dataverse contact from a vCard 3.0
// (RFC 2426) or 4.0 (RFC 6350); ContactCard writes columns into a vCard,
// rewriting only the properties whose columns changed inside the card the
// client last stored, so that everything the CRM has no column for survives
// (design invariant 4).
//
//	vCard property (RFC 6350 / RFC 2426)        contact column
//	------------------------------------------  ------------------------------------------
//	N family;given;additional;prefix;suffix     lastname; firstname; middlename;
//	  (§6.2.2 / §3.1.2)                           salutation; suffix
//	FN (§6.2.1 / §3.1.1)                        none: derived, never read (fullname is
//	                                              computed by the CRM)
//	NICKNAME (§6.2.3 / §3.1.3)                  nickname
//	TITLE (§6.6.1 / §3.5.1)                     jobtitle
//	NOTE (§6.7.2 / §3.6.2)                      description
//	URL (§6.7.8 / §3.6.8), preferred or first   websiteurl
//	ORG (§6.6.4 / §3.5.5) second component      department
//	EMAIL (§6.4.2 / §3.3.2), first three by     emailaddress1, emailaddress2,
//	  preference, then card order                 emailaddress3
//	TEL (§6.4.1 / §3.3.1) TYPE=work             telephone1
//	TEL TYPE=home                               telephone2
//	TEL of no other class (voice, main, none)   telephone3
//	TEL TYPE=cell (also mobile, iphone)         mobilephone
//	TEL TYPE=fax (wins over work/home)          fax
//	TEL TYPE=pager                              pager
//	ADR (§6.3.1 / §3.2.1) TYPE=work, else the   address1_postofficebox, _line1.._line3,
//	  preferred or first ADR not TYPE=home        _city, _stateorprovince, _postalcode,
//	                                              _country
//	ADR TYPE=home                               address2_* (the same columns)
//	BDAY (§6.2.5 / §3.1.5)                      birthdate ("YYYY-MM-DD")
//	ANNIVERSARY (§6.2.6, 4.0) /                 anniversary ("YYYY-MM-DD")
//	  X-ANNIVERSARY (3.0)
//
// ContactColumns lists the columns above. The rules behind the table:
//
//   - Choosing: where several fields could map to one column, the most
//     preferred wins (PREF, RFC 6350 §5.3, or RFC 2426's TYPE=pref), then the
//     first in card order. The choice depends only on params and order, never
//     on values. TYPE values compare case-insensitively, in either form
//     (TYPE=work;TYPE=voice or TYPE="work,voice"). Fields not chosen stay in
//     the card untouched: a fourth EMAIL, a second work TEL, a third ADR.
//   - ORG: the organization name (ORG's first component) has no contact
//     column in Dataverse (a contact's company is the parentcustomerid lookup
//     to an account, which this mapping does not resolve). It stays in the
//     card as the client wrote it and is never written; a CRM-born card with a
//     department gets ORG with an empty name, ";Sales".
//   - ADR: the street's lines fill line1, line2, line3 (line3 takes the rest
//     when there are more). The extended address (apartment, suite) takes the
//     line after the street when line2 or line3 is free, and otherwise stays
//     in the card only. Writing back, that line stays the extended address
//     while no later line is filled; when one is, it becomes a street line.
//     address1_name/address2_name have no vCard counterpart.
//   - TEL: a tel: URI (RFC 3966, the 4.0 form) maps to the number after
//     "tel:", and a TEL written as a URI is rewritten as one.
//   - BDAY, ANNIVERSARY: the date of a date or date-time in basic (19800501)
//     or extended (1980-05-01) form. A value that names no full date (--0501,
//     text) maps to "" and stays in the card untouched while the column stays
//     empty. A written date keeps the form of the value it replaces, else
//     extended in 3.0, basic in 4.0.
//   - FN: on a new card, fullname when cols has it, else "first middle
//     last"; when the names change, "first middle last" (a stale fullname is
//     not trusted); failing names, the nickname, then the first e-mail. While
//     the names are unchanged the client's FN is kept, whatever the CRM's
//     fullname says. A client's FN never reaches the CRM.
//   - New fields: EMAIL gets TYPE=INTERNET in 3.0 and, for emailaddress1,
//     TYPE=work; TEL gets the types of its column (work,voice; home,voice;
//     voice; cell; work,fax; pager); ADR gets TYPE=work or TYPE=home. A new
//     card is VERSION 3.0 with FN, N and UID (the CRM id); a card keeps its
//     VERSION. A client's 3.0 card without N keeps lacking it while the names
//     stay empty.
//   - Clearing a column removes its field (with the other representations
//     sharing its ALTID, RFC 6350 §5.4), unless another field would then take
//     its place and change a column: then the field stays with an empty
//     value. So emailaddress2 cleared between two filled ones leaves
//     "EMAIL:" in its place, and a CRM contact with only emailaddress3 gets
//     two empty EMAILs first. This keeps CardColumns(ContactCard(cols, base))
//     equal to cols, so a merge never sees a change nobody made.
//   - Text: values are go-vcard's; the escapes it leaves in them ("\;", "\N",
//     and "\:" that some clients write) are read as their characters.
//
// What a card cannot hold, and so does not read back the same: an address
// line containing a newline, a date column that is not "YYYY-MM-DD", and text
// ending in a carriage return (go-vcard drops it on the wire).
//
// # Activities
//
// CalendarActivity reads an Activity (columns, parties, exceptions, time
// span) from a calendar object resource (RFC 4791 §4.1: one UID, VTIMEZONEs
// kept); ActivityCalendar writes one into the object the client last stored,
// rewriting only the properties whose columns changed. ActivityColumns and
// PartyRoles list what is mapped per kind; everything else in the body
// (VALARM, ATTACH, CATEGORIES, COLOR, URL, SEQUENCE, DTSTAMP, X- properties,
// other params) stays as the client wrote it.
//
//	iCalendar (RFC 5545)                        activity column or party
//	------------------------------------------  ------------------------------------------
//	VEVENT (appointment; with RRULE             appointment / recurringappointmentmaster
//	  recurringappointmentmaster)
//	SUMMARY (§3.8.1.12)                         subject
//	DESCRIPTION (§3.8.1.5)                      description (a change drops X-ALT-DESC
//	                                              and ALTREP, which would contradict it)
//	LOCATION (§3.8.1.7)                         location
//	DTSTART / DTEND or DURATION (§3.8.2.4,      scheduledstart / scheduledend (UTC);
//	  §3.8.2.2, §3.8.2.5)                         master: starttime / endtime, duration
//	                                              (minutes), patternstartdate (local date
//	                                              of DTSTART at 00:00 UTC)
//	DTSTART;VALUE=DATE                          isalldayevent "true"; start 00:00 UTC of
//	                                              the date, end 00:00 UTC of DTEND's date
//	                                              (exclusive; no DTEND: the next day)
//	STATUS (§3.8.1.11) TENTATIVE / CONFIRMED /  statecode/statuscode 0/2, 3/5, 2/4; none:
//	  CANCELLED                                   0/1 (see States below)
//	PRIORITY (§3.8.1.9) 1–4 / 5 / 6–9           prioritycode 2 / 1 / 0; 0 or none: null
//	ORGANIZER (§3.8.4.3) mailto:                party Organizer
//	ATTENDEE (§3.8.4.1) mailto:, ROLE=REQ-      party RequiredAttendee
//	  PARTICIPANT, CHAIR or none
//	ATTENDEE ROLE=OPT- or NON-PARTICIPANT       party OptionalAttendee
//	RRULE (§3.8.5.3)                            recurrencepatterntype, interval,
//	                                              daysofweekmask, dayofmonth, instance,
//	                                              monthofyear, isnthmonthly, isnthyearly,
//	                                              isweekdaypattern, patternendtype,
//	                                              occurrences, patternenddate,
//	                                              firstdayofweek (Recurrence below)
//	EXDATE (§3.8.5.1)                           Exception{Deleted: true}
//	VEVENT with RECURRENCE-ID (§3.8.4.4)        Exception{Columns: appointment columns}
//	VTODO (task, phonecall, letter, fax)
//	SUMMARY / DESCRIPTION                       subject / description
//	DTSTART / DUE (§3.8.2.3; DTSTART+DURATION)  scheduledstart / scheduledend
//	COMPLETED (§3.8.2.1)                        actualend
//	STATUS NEEDS-ACTION or none / IN-PROCESS /  statecode 0 / 0 / 1 / 2 (task statuscode
//	  COMPLETED / CANCELLED                       2, 3, 5, 6; phone call 1, 1, 2, 3;
//	                                              letter 1, 1, 4, 5; fax 1, 1, 2, 5)
//	PRIORITY                                    prioritycode, as for VEVENT
//	PERCENT-COMPLETE (§3.8.1.8)                 percentcomplete (task only)
//	X-CRMDAV-PHONE-NUMBER                       phonenumber (phone call)
//	X-CRMDAV-ADDRESS                            address (letter)
//	X-CRMDAV-FAX-NUMBER, X-CRMDAV-PAGES         faxnumber, numberofpages (fax)
//	X-CRMDAV-DIRECTION OUTGOING / INCOMING      directioncode true / false (phone call,
//	                                              letter, fax)
//	VJOURNAL (email; read-only collection)
//	SUMMARY / DESCRIPTION                       subject / description (the CRM's HTML, as is)
//	DTSTART                                     senton
//	STATUS DRAFT / FINAL / CANCELLED            statecode/statuscode 0/1, 1/3, 2/5
//	ORGANIZER / ATTENDEE / ATTENDEE ROLE=OPT-   party Sender / ToRecipient / CCRecipient
//	  PARTICIPANT
//	every kind above (VEVENT, VTODO, VJOURNAL)
//	X-CRMDAV-REGARDING;X-CRMDAV-KIND=<table>:   regardingobjectid, as the column Regarding
//	  <GUID>                                      "<table>:<guid>" (see Regarding below)
//
// The rules behind the table:
//
//   - Times: the CRM holds UTC. A DATE-TIME with TZID is read through the
//     object's VTIMEZONE (else Go's zone of that name); a changed time is
//     written in the form of the property it replaces (its TZID, floating or
//     UTC), an unchanged one keeps its bytes. A floating time, and a TZID
//     nobody knows, is read as UTC and reported in Activity.Approximated. A
//     DURATION that still gives the end stays; otherwise the end becomes
//     DTEND (DUE for a to-do). A to-do's DATE stays a DATE while the column is
//     at 00:00 UTC. COMPLETED is always UTC.
//   - States: STATUS says the class of statecode/statuscode; the class's
//     default codes are in the table. Codes that are not their class's
//     default (an appointment completed, 1/3, or busy-out-of-office, 3/6; a
//     phone call received, 1/4) are kept in X-CRMDAV-STATE:<state>/<status>,
//     which counts only while its codes fall in the class STATUS names: a
//     client changing STATUS always wins. A task is IN-PROCESS when its
//     statuscode is 3 (in progress) or its percentcomplete is above 0.
//   - Priority: 0/1/2 ⇄ 9/5/1; PRIORITY 0 (undefined) and no PRIORITY are
//     null, so that every CRM value reads back exactly.
//   - Parties: only mailto: addresses map (compared without case); an
//     ORGANIZER or ATTENDEE with another URI (urn:uuid:, a room) is no party
//     and stays. Read parties carry Role and Address only: the caller
//     resolves addresses to CRM records, and unresolved ones stay in the body.
//     Written parties replace the mapped ones only when the set (role,
//     address) changed; an attendee whose address stays keeps its params
//     (PARTSTAT, CN, RSVP, CUTYPE…), ROLE changing only when required/optional
//     does. (The sync engine resolves addresses to CRM users and contacts
//     and writes unknown ones as unresolved parties, addressused only.) A party known only by PartyID (no Address) cannot be written and
//     is skipped. Nil Parties leave the body's parties alone. To-dos map no
//     parties: the from/to of phone calls, letters and faxes stay in the CRM,
//     and ORGANIZER/ATTENDEE of a VTODO stay in the body. An e-mail's BCC is
//     never written; its computed sender/torecipients columns are not mapped
//     (the parties are).
//   - Recurrence: the pattern is in the event's own time zone (the days and
//     dates of DTSTART's TZID). FREQ DAILY/WEEKLY/MONTHLY/YEARLY ⇄ pattern type
//     0–3; INTERVAL ⇄ interval (1 when absent, not written when 1); BYDAY days
//     ⇄ daysofweekmask (Sunday 0x01 … Saturday 0x40); DAILY with
//     BYDAY=MO,TU,WE,TH,FR ⇄ isweekdaypattern; DAILY with other days is that
//     weekly pattern; BYMONTHDAY ⇄ dayofmonth; BYDAY=2MO or BYDAY=…;BYSETPOS=2
//     ⇄ isnthmonthly/isnthyearly with instance 2 (-1 ⇄ instance 5, last);
//     BYMONTH ⇄ monthofyear; COUNT ⇄ patternendtype 2 + occurrences; UNTIL ⇄
//     patternendtype 3 + patternenddate (the local date UNTIL falls on, at
//     00:00 UTC; written as the end of that local day, in UTC, or as a DATE
//     for an all-day series); neither ⇄ patternendtype 1; WKST ⇄
//     firstdayofweek (0 Sunday … 6 Saturday). A missing day, month or weekday
//     is DTSTART's. Columns that do not apply to the pattern type are null.
//   - Approximation: a rule the CRM cannot hold (FREQ=HOURLY and finer,
//     BYHOUR, BYMINUTE, BYWEEKNO, BYYEARDAY, several BYMONTHDAY or BYMONTH,
//     BYMONTHDAY=-1 (read as 31), ordinals other than 1–4 and -1, RDATE,
//     EXRULE, several RRULEs, RANGE=THISANDFUTURE) is read as the nearest
//     pattern and reported in Activity.Approximated, readable, for the logs
//     and status; the body keeps the client's rule, since an RRULE is
//     rewritten only when its pattern columns change (then as the CRM's
//     pattern, whole). Recurring to-dos and journals and overridden to-dos
//     are reported the same way and stay in the body only.
//   - Exceptions: an overridden instance (a VEVENT with RECURRENCE-ID) is an
//     Exception with the original start in UTC and its appointment columns;
//     the sync engine writes them into the appointment Dataverse expanded
//     for that occurrence (seriesid, originalstartdate), which makes it
//     instancetypecode 3. A deleted instance (EXDATE) is an Exception with
//     Deleted set: Dataverse has no writable column for it
//     (deletedexceptionslist is read only) and represents it by the
//     instance's absence, so the engine deletes that instance. EXDATE stays
//     in the body: values no longer deleted are removed, new ones added in
//     DTSTART's form; new overrides take DTSTART's form for RECURRENCE-ID and
//     the master's columns for what the Exception does not give. Rendering a
//     plain Appointment into a recurring body removes RRULE, RDATE, EXDATE
//     and the overrides.
//   - Regarding: the record an activity is about (the polymorphic lookup
//     regardingobjectid) is X-CRMDAV-REGARDING with the record's GUID as
//     value and its table's logical name in X-CRMDAV-KIND, e.g.
//     X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a;
//     the column Regarding (crmclient.RegardingColumn) holds
//     "contact:0b8c2f1e-…", lower case, "" for none. No property is no
//     regarding; an empty one (no kind, no value) too. Kind and GUID are
//     read case-insensitively; anything else (a GUID without kind, a kind
//     without GUID, braces, a name instead of a GUID, two properties) is
//     ErrValue, which the gateway answers with 403
//     CALDAV:valid-calendar-object-resource, storing nothing. Any table
//     name of the logical-name form reads; the CRM adapter writes those it
//     knows the entity set of (account, contact, lead, opportunity,
//     incident, campaign, quote, salesorder, invoice, contract) and
//     rejects others at push (visible in status). A changed value keeps
//     the property's other params while the table stays. An overridden
//     instance (RECURRENCE-ID) without the property has its series'
//     regarding; one that regards nothing while its series regards
//     something carries an empty X-CRMDAV-REGARDING.
//   - CRM-born objects: VERSION 2.0, PRODID ProdID, UID as given, times in
//     UTC, DTSTAMP from the modifiedon column when Columns carries it (the
//     mapping reads no clock), else 1970-01-01.
//   - Time span (Activity.Start/End, RFC 4791 §9.9): an event's DTSTART to
//     its end; a bounded series to the end of its last instance (expanded at
//     day granularity or coarser, at most 200 years or 100,000 instances),
//     an open one unbounded (zero End); overrides and RDATEs widen it. To-dos
//     follow the §9.9 VTODO table (DTSTART/DUE/DURATION, else COMPLETED and
//     CREATED, else unbounded). Floating times and DATEs are widened by 14
//     hours on each side, the largest UTC offsets, so that an index on the
//     span never misses; the caller checks the exact zone if it must.
//
// What an object cannot hold, and so does not read back the same: null
// isalldayevent or interval (read as false, 1), a zero-length all-day event,
// text with a carriage return, pattern columns that do not apply to the
// pattern type, starttime/endtime/duration/patternstartdate that contradict
// one another, and a null statecode of a to-do.
package mapping
