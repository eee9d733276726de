package democrm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file implements the part of OData v4 $filter that the Dataverse Web
// API accepts and the gateway uses (OData v4.01 URL Conventions §5.1.1):
// eq ne gt ge lt le, and or not, parentheses, contains/startswith/endswith,
// and the lambda any() over an activity's parties collection. String
// comparisons are case-insensitive, as Dataverse's SQL collation makes them.

type fnode interface{}

type (
	fBinary struct {
		op   string
		l, r fnode
	}
	fNot     struct{ x fnode }
	fLiteral struct{ v any } // string, float64, bool or nil
	fProp    struct {
		name   string
		lambda bool // a property of the lambda variable (an activity party)
	}
	fCall struct {
		name string
		args []fnode
	}
	fAny struct {
		nav  string
		body fnode
	}
)

// filterError is a $filter the service refuses; it becomes a 400.
type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

type filterParser struct {
	toks    []string
	pos     int
	ent     *entity
	parties *entity
	lambda  string // name of the lambda variable in scope
}

func parseFilter(src string, e, parties *entity) (fnode, error) {
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, ent: e, parties: parties}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, &filterError{fmt.Sprintf("Syntax error at position %d in '%s'.", p.pos, src)}
	}
	return n, nil
}

func lexFilter(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',' || c == ':':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			var b strings.Builder
			b.WriteByte('\'')
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					// "Filter rows using OData": "There is an unterminated
					// literal at position 21 in 'lastname eq 'O'Bryan''."
					return nil, &filterError{fmt.Sprintf("There is an unterminated literal at position %d in '%s'.", len(s), s)}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			toks = append(toks, b.String())
			i = j + 1
		default:
			j := i
			for j < len(s) {
				r := rune(s[j])
				if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_./-+@", r) {
					j++
					continue
				}
				// a time of day inside a date-time literal: 2026-11-25T10:00:00Z
				if r == ':' && j-i >= 11 && s[i+4] == '-' && s[i+10] == 'T' {
					j++
					continue
				}
				break
			}
			if j == i {
				return nil, &filterError{fmt.Sprintf("Syntax error: character '%c' is not valid at position %d in '%s'.", c, i, s)}
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) next() string { t := p.peek(); p.pos++; return t }

func (p *filterParser) expect(t string) error {
	if got := p.next(); got != t {
		return &filterError{fmt.Sprintf("Syntax error: '%s' expected, found '%s'.", t, got)}
	}
	return nil
}

func (p *filterParser) or() (fnode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = fBinary{"or", l, r}
	}
	return l, nil
}

func (p *filterParser) and() (fnode, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = fBinary{"and", l, r}
	}
	return l, nil
}

func (p *filterParser) not() (fnode, error) {
	if p.peek() == "not" {
		p.next()
		x, err := p.not()
		return fNot{x}, err
	}
	return p.cmp()
}

func (p *filterParser) cmp() (fnode, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	switch op := p.peek(); op {
	case "eq", "ne", "gt", "ge", "lt", "le":
		p.next()
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		return fBinary{op, l, r}, nil
	}
	return l, nil
}

func (p *filterParser) primary() (fnode, error) {
	t := p.next()
	switch {
	case t == "":
		return nil, &filterError{"Syntax error: unexpected end of $filter."}
	case t == "(":
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		return n, p.expect(")")
	case t[0] == '\'':
		return fLiteral{t[1:]}, nil
	case t == "null":
		return fLiteral{nil}, nil
	case t == "true" || t == "false":
		return fLiteral{t == "true"}, nil
	case t == "contains" || t == "startswith" || t == "endswith":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		a, err := p.primary()
		if err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		b, err := p.primary()
		if err != nil {
			return nil, err
		}
		return fCall{t, []fnode{a, b}}, p.expect(")")
	}
	if isGUID(t) {
		return fLiteral{strings.ToLower(t)}, nil
	}
	if ts, err := time.Parse(time.RFC3339, t); err == nil {
		return fLiteral{ts.UTC().Format(time.RFC3339)}, nil
	}
	// An Edm.Date literal, compared with DateOnly columns ("2006-01-02").
	if ts, err := time.Parse("2006-01-02", t); err == nil {
		return fLiteral{ts.Format("2006-01-02")}, nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return fLiteral{f}, nil
	}
	// A property path: name, var/name, or nav/any(var:expr).
	if nav, ok := strings.CutSuffix(t, "/any"); ok {
		if p.ent == nil || nav != p.ent.partiesNav || p.lambda != "" {
			return nil, p.unknown(nav)
		}
		if err := p.expect("("); err != nil {
			return nil, err
		}
		v := p.next()
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		p.lambda = v
		body, err := p.or()
		p.lambda = ""
		if err != nil {
			return nil, err
		}
		return fAny{nav, body}, p.expect(")")
	}
	if p.lambda != "" {
		if name, ok := strings.CutPrefix(t, p.lambda+"/"); ok {
			if !hasReadName(p.parties, name) {
				return nil, &filterError{fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, p.parties.name)}
			}
			return fProp{name: name, lambda: true}, nil
		}
	}
	if !hasReadName(p.ent, t) {
		return nil, p.unknown(t)
	}
	return fProp{name: t}, nil
}

func (p *filterParser) unknown(name string) error {
	return &filterError{fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, p.ent.name)}
}

func hasReadName(e *entity, name string) bool {
	if name == e.key {
		return true
	}
	if strings.HasPrefix(name, "_") && strings.HasSuffix(name, "_value") {
		a := e.attrs[strings.TrimSuffix(strings.TrimPrefix(name, "_"), "_value")]
		return a != nil && (a.typ == tLookup || a.typ == tOwner)
	}
	a := e.attrs[name]
	return a != nil && a.typ != tLookup && a.typ != tOwner
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// valuer gives the value of a column of the row a filter is evaluated on.
type valuer interface{ value(name string) any }

// partyLister gives the activity parties of the row, for any().
type partyLister func() []*row

func evalFilter(n fnode, r valuer, parties partyLister, lambda valuer) any {
	switch n := n.(type) {
	case fLiteral:
		return n.v
	case fProp:
		if n.lambda {
			return normalize(lambda.value(n.name))
		}
		return normalize(r.value(n.name))
	case fNot:
		b, _ := evalFilter(n.x, r, parties, lambda).(bool)
		return !b
	case fAny:
		for _, pr := range parties() {
			if b, _ := evalFilter(n.body, r, parties, pr).(bool); b {
				return true
			}
		}
		return false
	case fCall:
		a, _ := evalFilter(n.args[0], r, parties, lambda).(string)
		b, _ := evalFilter(n.args[1], r, parties, lambda).(string)
		a, b = strings.ToLower(a), strings.ToLower(b)
		switch n.name {
		case "contains":
			return strings.Contains(a, b)
		case "startswith":
			return strings.HasPrefix(a, b)
		default:
			return strings.HasSuffix(a, b)
		}
	case fBinary:
		l := evalFilter(n.l, r, parties, lambda)
		if n.op == "and" || n.op == "or" {
			lb, _ := l.(bool)
			if n.op == "and" && !lb {
				return false
			}
			if n.op == "or" && lb {
				return true
			}
			rb, _ := evalFilter(n.r, r, parties, lambda).(bool)
			return rb
		}
		return compare(n.op, l, evalFilter(n.r, r, parties, lambda))
	}
	return nil
}

// normalize turns stored JSON values into the literal types of a filter.
func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, _ := v.Float64()
		return f
	case int64:
		return float64(v)
	case int:
		return float64(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	}
	return v
}

func compare(op string, l, r any) bool {
	if l == nil || r == nil {
		switch op {
		case "eq":
			return l == nil && r == nil
		case "ne":
			return (l == nil) != (r == nil)
		}
		return false
	}
	c := 0
	switch a := l.(type) {
	case string:
		b, ok := r.(string)
		if !ok {
			return op == "ne"
		}
		c = strings.Compare(strings.ToLower(a), strings.ToLower(b))
	case float64:
		b, ok := r.(float64)
		if !ok {
			return op == "ne"
		}
		switch {
		case a < b:
			c = -1
		case a > b:
			c = 1
		}
	case bool:
		b, ok := r.(bool)
		if !ok || (op != "eq" && op != "ne") {
			return op == "ne"
		}
		if a != b {
			c = 1
		}
	default:
		return false
	}
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0
}

// sqlHint narrows the rows a filter can match to an indexed SQL condition,
// so that a query by owner, by activity or by party does not read the whole
// table. The filter is still evaluated on every row the hint lets through.
func sqlHint(n fnode, e *entity) (string, []any, bool) {
	switch n := n.(type) {
	case fBinary:
		switch n.op {
		case "and":
			if q, a, ok := sqlHint(n.l, e); ok {
				return q, a, true
			}
			return sqlHint(n.r, e)
		case "or":
			// Flattened, and the equalities on one column folded into one
			// IN: SQLite refuses expressions nested deeper than 1000, and
			// a batch of ids on two columns would otherwise nest so.
			var terms []fnode
			orTerms(n, &terms)
			var groups []string // hints with one argument, "… = ?", in order
			byHint := map[string][]any{}
			var qs []string // other hints
			var args []any
			for _, t := range terms {
				q, a, ok := sqlHint(t, e)
				if !ok {
					return "", nil, false
				}
				if len(a) == 1 && strings.Count(q, "= ?") == 1 && strings.Count(q, "?") == 1 {
					if _, seen := byHint[q]; !seen {
						groups = append(groups, q)
					}
					byHint[q] = append(byHint[q], a[0])
					continue
				}
				qs = append(qs, q)
				args = append(args, a...)
			}
			if len(qs) > 100 {
				return "", nil, false // evaluated row by row instead
			}
			var all []string
			var allArgs []any
			for _, q := range groups {
				a := byHint[q]
				if len(a) > 1 {
					i := strings.LastIndex(q, "= ?")
					q = q[:i] + "IN (?" + strings.Repeat(",?", len(a)-1) + ")" + q[i+len("= ?"):]
				}
				all = append(all, q)
				allArgs = append(allArgs, a...)
			}
			all = append(all, qs...)
			allArgs = append(allArgs, args...)
			if len(all) == 1 {
				return all[0], allArgs, true
			}
			return "(" + strings.Join(all, " OR ") + ")", allArgs, true
		case "eq":
			p, pok := n.l.(fProp)
			lit, lok := n.r.(fLiteral)
			s, sok := lit.v.(string)
			if !pok || !lok || !sok || p.lambda {
				return "", nil, false
			}
			col := ""
			switch {
			case p.name == e.key:
				col = "id"
			case p.name == "_ownerid_value":
				col = "owner"
			case e.name == "activityparty" && p.name == "_activityid_value":
				col = "ref"
			case e.name == "activityparty" && p.name == "_partyid_value":
				col = "party"
			}
			if col != "" {
				return col + " = ?", []any{strings.ToLower(s)}, true
			}
		}
	case fAny:
		// nav/any(p: p/_partyid_value eq X): activities with party X.
		if b, ok := n.body.(fBinary); ok && b.op == "eq" {
			p, pok := b.l.(fProp)
			lit, lok := b.r.(fLiteral)
			s, sok := lit.v.(string)
			if pok && lok && sok && p.lambda && p.name == "_partyid_value" {
				return "id IN (SELECT ref FROM rows WHERE entity = 'activityparty' AND party = ?)", []any{strings.ToLower(s)}, true
			}
		}
	}
	return "", nil, false
}

// value gives the value of column name of r as the Web API reads it.
func (r *row) value(name string) any {
	e := r.entity
	switch name {
	case e.key:
		return r.id
	case "createdon":
		return r.created.UTC().Format(time.RFC3339)
	case "modifiedon":
		return r.modified.UTC().Format(time.RFC3339)
	case "versionnumber":
		return r.version
	case "_ownerid_value":
		if r.owner == "" {
			return nil
		}
		return r.owner
	case "activitytypecode":
		if e.activity {
			return e.name
		}
	}
	return r.fields()[name]
}

func orTerms(n fnode, out *[]fnode) {
	if b, ok := n.(fBinary); ok && b.op == "or" {
		orTerms(b.l, out)
		orTerms(b.r, out)
		return
	}
	*out = append(*out, n)
}
