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
package mapping
