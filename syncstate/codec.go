package syncstate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// codec converts between the DAV bodies of one kind of collection and CRM
// columns; there is one per kind, and one sync engine for all.
type codec interface {
	// parse checks a body: one object with a UID. It returns what the sync
	// needs of it.
	parse(body []byte) (object, error)
	// render writes the columns of a record of kind into base (the body
	// the client last stored, nil for a CRM-born item) and returns the new
	// body.
	render(kind crmclient.Kind, cols crmclient.Columns, base []byte, uid string) ([]byte, error)
	// columns are the CRM columns the mapping reads and writes for kind.
	columns(kind crmclient.Kind) []string
	// groups are the sets of those columns that merge as one (see Merge).
	groups(kind crmclient.Kind) [][]string
	// ext is the file name extension of new resources.
	ext() string
}

// object is what the sync needs of a DAV object.
type object struct {
	uid  string
	kind crmclient.Kind    // the CRM kind of the record behind it
	cols crmclient.Columns // the mapped columns
	// start and end are the time span the object covers, for calendar
	// queries; nil when unknown or unbounded.
	start, end *time.Time
	// approx says what of the object the CRM cannot hold exactly and gets
	// approximated (a recurrence rule); "" when exact.
	approx string
}

func codecFor(k crmclient.Kind) (codec, error) {
	switch k {
	case crmclient.Contact:
		return vcardCodec{}, nil
	case crmclient.Appointment, crmclient.Email:
		return activityCodec{icalCodec{family: k}}, nil
	case crmclient.Task, crmclient.PhoneCall, crmclient.Letter, crmclient.Fax:
		return icalCodec{family: k}, nil
	}
	return nil, fmt.Errorf("syncstate: no mapping for %s", k)
}

// vcardCodec maps contacts to vCards (RFC 6350, RFC 2426).
type vcardCodec struct{}

func (vcardCodec) ext() string                      { return ".vcf" }
func (vcardCodec) columns(crmclient.Kind) []string  { return mapping.ContactColumns }
func (vcardCodec) groups(crmclient.Kind) [][]string { return nil }

func decodeCard(body []byte) (vcard.Card, error) {
	dec := vcard.NewDecoder(bytes.NewReader(body))
	card, err := dec.Decode()
	if err != nil {
		return nil, fmt.Errorf("%w: not a vCard: %v", ErrInvalid, err)
	}
	// RFC 6352 §5.1: an address object resource holds exactly one vCard.
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one vCard in one resource", ErrInvalid)
	}
	return card, nil
}

func (vcardCodec) parse(body []byte) (object, error) {
	card, err := decodeCard(body)
	if err != nil {
		return object{}, err
	}
	uid := card.Value(vcard.FieldUID)
	if uid == "" {
		return object{}, fmt.Errorf("%w: the vCard has no UID (RFC 6352 §5.1)", ErrInvalid)
	}
	if card.Value(vcard.FieldFormattedName) == "" && card.Value(vcard.FieldName) == "" {
		return object{}, fmt.Errorf("%w: the vCard has neither FN nor N", ErrInvalid)
	}
	cols, err := mapping.CardColumns(card)
	if err != nil {
		return object{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return object{uid: uid, kind: crmclient.Contact, cols: cols}, nil
}

func (vcardCodec) render(_ crmclient.Kind, cols crmclient.Columns, base []byte, uid string) ([]byte, error) {
	var baseCard vcard.Card
	if base != nil {
		c, err := decodeCard(base)
		if err != nil {
			return nil, err
		}
		baseCard = c
	}
	card := mapping.ContactCard(cols, baseCard, uid)
	var b bytes.Buffer
	if err := vcard.NewEncoder(&b).Encode(card); err != nil {
		return nil, fmt.Errorf("syncstate: render vCard %s: %w", uid, err)
	}
	return b.Bytes(), nil
}

// etagOf is the strong entity tag of a body (RFC 9110 §8.8.3), quoted.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// only restricts cols to names.
func only(cols crmclient.Columns, names []string) crmclient.Columns {
	out := make(crmclient.Columns, len(names))
	for _, n := range names {
		out[n] = cols[n]
	}
	return out
}
