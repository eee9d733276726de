package dav

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/emersion/go-ical"
)

// Facts of calendar objects for the common calendar-query: one VEVENT,
// VTODO or VJOURNAL comp-filter inside VCALENDAR with a time-range and
// nothing else (what clients send to fill a view). Reading each candidate
// with go-ical and expanding its recurrences (timerange.go) costs far
// more than the answer's writing; so the instants that the RFC 4791 §9.9
// rules compare are compiled once per object and kept, by ETag, in a
// bounded cache shared by every request and user. A filter of any other
// shape, and every object or range the facts cannot answer exactly, goes
// through the exact matcher (matchCalendar): facts answer as it would, or
// not at all.

// trFilter is a filter of the common shape: comp-filter name with time
// range tr. Other filters give ok false.
func (cf *compFilter) trFilter() (name string, tr timeRange, ok bool) {
	if cf.notDefined || cf.tr != nil || len(cf.props) != 0 || len(cf.comps) != 1 {
		return "", tr, false
	}
	// test="anyof" changes nothing with one test at each level.
	sub := cf.comps[0]
	if sub.notDefined || sub.tr == nil || len(sub.props) != 0 || len(sub.comps) != 0 {
		return "", tr, false
	}
	switch sub.name {
	case ical.CompEvent, ical.CompToDo, ical.CompJournal:
		return sub.name, *sub.tr, true
	}
	return "", tr, false
}

// factsMargin widens the range a recurrence is compiled for, each way,
// so that the facts also answer neighbouring ranges (the next month of a
// view). It must exceed the 48 hours of expand's limit.
const factsMargin = 183 * 24 * time.Hour

// Bounds of the compilation of one recurrence: instances followed from
// DTSTART, and instances kept (those in the widened range). Past them
// the component is answered by the exact matcher.
const (
	maxFactsFollowed = 20000
	maxFactsKept     = 1024
)

// maxZoneOffset bounds the UTC offsets of the zones whose recurrences are
// compiled: with it, an instance expand would not reach (wall clock past
// the range's end + 48 hours) starts after the range's end.
const maxZoneOffset = 24 * time.Hour

// instSpan is one instance's instants s and e (instRule.at) in Unix
// seconds.
type instSpan struct{ s, e int64 }

// Answers of one component's facts.
const (
	factsList    uint8 = iota // the instances in inst answer ranges within the window
	factsAlways               // true (a value that does not parse, an open recurrence: a superset)
	factsUnknown              // only the exact matcher answers
)

// compFacts are the facts of one VEVENT, VTODO or VJOURNAL.
type compFacts struct {
	name   string // an ical.Comp… constant
	kind   ruleKind
	state  uint8
	recurs bool
	// open: the facts of a recurrence compiled for a range without end
	// answer only such ranges (inst is then the whole set), the others
	// only ranges with an end.
	open bool
	// The window of a recurrence: its instances answer a range with an
	// end at most to (unless open) and, when hasFrom, a start at least
	// from (instances wholly before from are left out). Unix seconds.
	hasFrom  bool
	from, to int64
	one      instSpan   // the instance of a component that does not recur
	inst     []instSpan // the instances of a recurrence
}

// calFacts are the facts of one calendar object: its components that a
// time-range can name.
type calFacts struct {
	size int    // of the body
	sum  uint64 // factsCache.seed hash of the body
	// float is the key of the request zone the facts were compiled with,
	// when they depend on it (floating times and dates; RFC 4791 §9.8).
	usesFloat bool
	float     string
	comps     []compFacts
}

// compileFacts compiles the facts of cal as matchCalendar would read it
// with float, the zone of floating values, whose key is floatKey;
// recurrences are followed over r widened by factsMargin.
func compileFacts(cal *ical.Calendar, float zone, floatKey string, r timeRange) *calFacts {
	z := newZones(cal, float)
	overridden := z.overriddenIDs(cal.Children)
	f := &calFacts{}
	for _, c := range cal.Children {
		var name string
		switch c.Name {
		case ical.CompEvent:
			name = ical.CompEvent
		case ical.CompToDo:
			name = ical.CompToDo
		case ical.CompJournal:
			name = ical.CompJournal
		default:
			continue
		}
		var ov map[int64]bool
		if c.Props.Get(ical.PropRecurrenceID) == nil {
			ov = overridden
		}
		cf := z.compileComp(c, r, ov)
		cf.name = name
		f.comps = append(f.comps, cf)
	}
	if z.floatUsed {
		f.usesFloat, f.float = true, floatKey
	}
	return f
}

// compileComp compiles what zones.overlaps does for c (overridden: the
// RECURRENCE-IDs of the object when c is a master).
//
// A component that does not recur is its one instance. A recurrence is the
// instances expand gives for r widened by factsMargin: with an end E,
// expand goes up to the wall clock L(E) = toWall(E) + 48h, and overlaps
// answers a range r' from the instances up to L(r'). The facts answer r'
// from all they keep, which is the same answer when
//   - every instance up to L(r') is kept: L(r') <= r'.end + maxOff + 48h
//     must not pass the last wall clock covered (hence to, the latest
//     end answered, is that less maxOff + 48h);
//   - the instances kept past L(r') pass no rule: such an instance starts
//     at s > L(r') - maxOff >= r'.end + 48h - 2 maxOff >= r'.end, when
//     the zone's offsets are within maxZoneOffset (24h); a VEVENT's,
//     VJOURNAL's or DTSTART-only VTODO's rule then fails, and a VTODO's
//     with DURATION or DUE too when its end is not before its start
//     (checked; else left to the exact matcher);
//   - no error of expand's depends on the range: the rule's horizon is
//     beyond L, and maxFactsFollowed is far below maxInstances.
//
// Instances that end before r.start - factsMargin are left out; the facts
// then answer only ranges starting at that instant or later, which no such
// instance overlaps. Without an end, expand follows the whole set, and
// answers true on any error, whatever the range's start.
func (z *zones) compileComp(c *ical.Component, r timeRange, overridden map[int64]bool) compFacts {
	start, ok := compStart(c)
	if !ok {
		return compFacts{state: factsAlways}
	}
	ir, ok := z.rule(c, start)
	if !ok {
		return compFacts{state: factsAlways}
	}
	cf := compFacts{kind: ir.kind}
	if start == nil || !recurs(c) {
		s, e := ir.at(startWall(start))
		var ok bool
		if cf.one, ok = unixSpan(s, e); !ok {
			cf.state = factsUnknown
		}
		return cf
	}
	cf.recurs = true
	cf.state = factsUnknown
	cf.open = r.end.IsZero()
	var (
		end, limit time.Time // expand's range end and limit; zero when open
		maxOff     time.Duration
	)
	if !cf.open {
		maxOff, ok = zoneMaxOffset(ir.zs)
		if !ok || maxOff > maxZoneOffset {
			return cf
		}
		end = r.end.Add(factsMargin)
		limit = ir.zs.toWall(end).Add(48 * time.Hour)
		if limit.After(start.wall.AddDate(maxRecurYears, 0, 0)) {
			// expand would follow the rule to its horizon, and answer
			// by its own rules there.
			return cf
		}
	}
	if !r.start.IsZero() {
		cf.hasFrom, cf.from = true, r.start.Add(-factsMargin).Unix()
	}
	var (
		n      int
		last   time.Time // wall clock of the last instance followed
		cut    bool      // stopped before expand's end
		broken bool
	)
	err := z.expand(c, *start, timeRange{end: end}, func(w time.Time) bool {
		n++
		last = w
		if n > maxFactsFollowed {
			cut = true
			return true
		}
		s, e := ir.at(w)
		if len(overridden) > 0 && overridden[s.Unix()] {
			return false
		}
		sp, ok := unixSpan(s, e)
		if !ok {
			broken = true
			return true
		}
		if !cf.open && (ir.kind == kindTodoDuration || ir.kind == kindTodoDue) && sp.e < sp.s {
			// An instance past expand's limit could pass these rules.
			broken = true
			return true
		}
		if cf.hasFrom && sp.s < cf.from && sp.e < cf.from {
			// No range starting at from or later overlaps it.
			return false
		}
		cf.inst = append(cf.inst, sp)
		if len(cf.inst) > maxFactsKept {
			cut = true
			return true
		}
		return false
	})
	switch {
	case broken, cf.open && cut:
		return compFacts{recurs: true, open: cf.open, state: factsUnknown}
	case err != nil && cf.open:
		// Without an end, every error of expand's (an unbounded rule,
		// one too long to follow, a value that does not parse) makes
		// overlaps answer true, whatever the instances.
		return compFacts{recurs: true, open: true, state: factsAlways}
	case err != nil:
		// With an end, an error may depend on the range: left to expand.
		return compFacts{recurs: true, state: factsUnknown}
	}
	if !cf.open {
		covered := limit // every instance with a wall clock up to it is in inst
		if cut {
			covered = last.Add(-time.Second)
		}
		cf.to = covered.Add(-48 * time.Hour).Add(-maxOff).Unix()
	}
	if len(cf.inst) > 0 {
		// Exactly sized: the cache counts what it keeps.
		cf.inst = append(make([]instSpan, 0, len(cf.inst)), cf.inst...)
	}
	cf.state = factsList
	return cf
}

// unixSpan is s and e in Unix seconds; ok is false when they have a
// fraction of a second (no iCalendar value has).
func unixSpan(s, e time.Time) (instSpan, bool) {
	return instSpan{s.Unix(), e.Unix()}, s.Nanosecond() == 0 && e.Nanosecond() == 0
}

// zoneMaxOffset bounds the UTC offsets of z, in both directions.
func zoneMaxOffset(z zone) (time.Duration, bool) {
	switch z := z.(type) {
	case utcZone:
		return 0, true
	case locZone:
		// The offsets of the system's zone database are within ±16h.
		return maxZoneOffset, true
	case *vtzZone:
		m := absDur(z.before)
		for _, o := range z.onsets {
			m = max(m, absDur(o.off))
		}
		return m, true
	}
	return 0, false
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// match answers whether the object matches the filter on comp-filter
// name with range r, as matchCalendar does; known is false when the
// facts cannot tell.
func (f *calFacts) match(name string, r timeRange) (match, known bool) {
	known = true
	for i := range f.comps {
		c := &f.comps[i]
		if c.name != name {
			continue
		}
		switch v, ok := c.match(r); {
		case !ok:
			known = false
		case v:
			return true, true
		}
	}
	return false, known
}

func (c *compFacts) match(r timeRange) (match, known bool) {
	if c.recurs && c.open != r.end.IsZero() {
		return false, false
	}
	switch c.state {
	case factsAlways:
		return true, true
	case factsUnknown:
		return false, false
	}
	if !c.recurs {
		return c.kind.test(r, time.Unix(c.one.s, 0), time.Unix(c.one.e, 0)), true
	}
	if !c.open && r.end.Unix() > c.to || c.hasFrom && (r.start.IsZero() || r.start.Unix() < c.from) {
		return false, false
	}
	for _, in := range c.inst {
		if c.kind.test(r, time.Unix(in.s, 0), time.Unix(in.e, 0)) {
			return true, true
		}
	}
	return false, true
}

// bytes estimates the memory the facts hold, for the cache's bound.
func (f *calFacts) bytes() int {
	n := int(unsafe.Sizeof(*f)) + cap(f.comps)*int(unsafe.Sizeof(compFacts{}))
	for i := range f.comps {
		n += cap(f.comps[i].inst) * int(unsafe.Sizeof(instSpan{}))
	}
	return n
}

// factsCache keeps the facts of calendar objects by ETag, the least
// recently used first to go beyond maxEntries entries or maxBytes bytes
// (estimated). An entry answers only the body it was compiled from (its
// length and hash are compared): a Store's ETag is strong but need not be
// unique across collections. Safe for concurrent use.
type factsCache struct {
	seed                maphash.Seed
	maxEntries, maxSize int

	mu         sync.Mutex
	m          map[string]*factsEntry
	head, tail *factsEntry // most and least recently used
	size       int
}

type factsEntry struct {
	etag       string
	f          *calFacts
	size       int
	prev, next *factsEntry
}

const factsEntryOverhead = 160 // entry, map slot, key header

func newFactsCache(maxEntries, maxBytes int) *factsCache {
	return &factsCache{seed: maphash.MakeSeed(), maxEntries: maxEntries, maxSize: maxBytes, m: map[string]*factsEntry{}}
}

// calFactsCache is the process's cache: about 2 MiB holds the facts of the
// few thousand objects of a month's view.
var calFactsCache = newFactsCache(16384, 2<<20)

// sum is the hash of a body that entries are checked with.
func (fc *factsCache) sum(body []byte) uint64 { return maphash.Bytes(fc.seed, body) }

// get returns the facts of o compiled for the float zone of key
// floatKey, or nil.
func (fc *factsCache) get(o *Object, sum uint64, floatKey string) *calFacts {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	e := fc.m[o.ETag]
	if e == nil || e.f.size != len(o.Body) || e.f.sum != sum || e.f.usesFloat && e.f.float != floatKey {
		return nil
	}
	fc.unlink(e)
	fc.pushFront(e)
	return e.f
}

// put keeps f as the facts of o (f.size and f.sum set), in place of any
// others.
func (fc *factsCache) put(o *Object, f *calFacts) {
	size := factsEntryOverhead + len(o.ETag) + f.bytes()
	if size > fc.maxSize/16 {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if old := fc.m[o.ETag]; old != nil {
		fc.remove(old)
	}
	e := &factsEntry{etag: strings.Clone(o.ETag), f: f, size: size}
	fc.m[e.etag] = e
	fc.pushFront(e)
	fc.size += size
	for len(fc.m) > fc.maxEntries || fc.size > fc.maxSize {
		fc.remove(fc.tail)
	}
}

func (fc *factsCache) remove(e *factsEntry) {
	fc.unlink(e)
	delete(fc.m, e.etag)
	fc.size -= e.size
}

func (fc *factsCache) unlink(e *factsEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		fc.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		fc.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (fc *factsCache) pushFront(e *factsEntry) {
	e.next = fc.head
	if fc.head != nil {
		fc.head.prev = e
	}
	fc.head = e
	if fc.tail == nil {
		fc.tail = e
	}
}

// len returns the entries and their estimated bytes.
func (fc *factsCache) len() (entries, bytes int) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return len(fc.m), fc.size
}

// calMatcher answers, object by object, a calendar-query's filter: from
// the facts in cache when the filter has the common shape and they
// answer, else with go-ical and matchCalendar (facts compiled on the way
// are kept for the next request).
type calMatcher struct {
	cf       *compFilter
	float    zone
	floatKey string
	cache    *factsCache

	fast bool
	name string
	tr   timeRange
}

func newCalMatcher(cf *compFilter, float zone, floatKey string, cache *factsCache) *calMatcher {
	m := &calMatcher{cf: cf, float: float, floatKey: floatKey, cache: cache}
	m.name, m.tr, m.fast = cf.trFilter()
	return m
}

// match reports whether o matches; an error is a body go-ical does not
// read.
func (m *calMatcher) match(o *Object) (bool, error) {
	var sum uint64
	if m.fast {
		sum = m.cache.sum(o.Body)
		if f := m.cache.get(o, sum, m.floatKey); f != nil {
			if v, ok := f.match(m.name, m.tr); ok {
				return v, nil
			}
		}
	}
	cal, err := decodeCalendar(o.Body)
	if err != nil {
		return false, err
	}
	if m.fast {
		f := compileFacts(cal, m.float, m.floatKey, m.tr)
		if v, ok := f.match(m.name, m.tr); ok {
			f.size, f.sum = len(o.Body), sum
			m.cache.put(o, f)
			return v, nil
		}
	}
	return matchCalendar(m.cf, cal, m.float), nil
}
