package democrm

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// metadataNS derives stable ids (metadata ids, application users, directory
// object ids) from names, so that the same demo always has the same ids.
var metadataNS = uuid.MustParse("5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b")

func stableID(parts ...string) string {
	return uuid.NewSHA1(metadataNS, []byte(strings.Join(parts, "\x00"))).String()
}

// entityDefinitions answers EntityDefinitions(LogicalName='x') and its
// Attributes ("Query table definitions using the Web API"). Metadata is not
// paged.
func (s *Server) entityDefinitions(w http.ResponseWriter, r *http.Request, path string) *apiError {
	if r.Method != http.MethodGet {
		return errNoResource(requestURI(r))
	}
	rest, ok := strings.CutPrefix(path, "EntityDefinitions(LogicalName='")
	name, rest, ok2 := strings.Cut(rest, "')")
	if !ok || !ok2 || (rest != "" && rest != "/Attributes") {
		return errSegment(path)
	}
	e := s.schema.byName[name]
	if e == nil {
		return &apiError{http.StatusNotFound, "0x80040217", fmt.Sprintf("Could not find entity with name '%s'.", name), nil}
	}
	var b strings.Builder
	if rest == "" {
		fmt.Fprintf(&b, `{"@odata.context":"%s$metadata#EntityDefinitions/$entity","LogicalName":%q,"EntitySetName":%q,"PrimaryIdAttribute":%q,"IsActivity":%t,"ChangeTrackingEnabled":%t,"MetadataId":%q}`,
			baseURL(r), e.name, e.set, e.key, e.activity, e.name != "activityparty", stableID("entity", e.name))
	} else {
		fmt.Fprintf(&b, `{"@odata.context":"%s$metadata#EntityDefinitions('%s')/Attributes(LogicalName,AttributeType)","value":[`, baseURL(r), e.name)
		for i, n := range e.names {
			a := e.attrs[n]
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"@odata.type":"#Microsoft.Dynamics.CRM.%sAttributeMetadata","LogicalName":%q,"AttributeType":%q,"IsValidForCreate":%t,"IsValidForUpdate":%t,"MetadataId":%q}`,
				metadataType(a.typ), a.name, a.typ, !a.readOnly, !a.readOnly, stableID("attribute", e.name, a.name))
		}
		b.WriteString("]}")
	}
	writeJSON(w, http.StatusOK, []byte(b.String()))
	return nil
}

func metadataType(t attrType) string {
	switch t {
	case tLookup, tOwner:
		return "Lookup"
	case tState, tStatus:
		return string(t)
	case tPicklist:
		return "Picklist"
	case tUniqueID:
		return "UniqueIdentifier"
	case tEntity:
		return "EntityName"
	}
	return string(t)
}

// AddClient registers an application that may get tokens, and its
// application user. Calling it again with the same ID replaces the secret.
func (s *Server) AddClient(c Client) error {
	if c.ID == "" || c.Secret == "" {
		return errors.New("democrm: a client needs an id and a secret")
	}
	uid := stableID("application", c.ID)
	e := s.schema.byName["systemuser"]
	if _, err := s.st.get(e, uid); errors.Is(err, errNoRow) {
		now := s.now()
		rw := &row{entity: e, id: uid, created: now, modified: now, data: map[string]any{
			"applicationid": stableID("appid", c.ID),
			"lastname":      "# " + c.ID,
			"fullname":      "# " + c.ID,
			"domainname":    c.ID + "@application",
			"isdisabled":    false,
		}}
		if err := s.st.write(func(tx *gorm.DB) error { return s.st.put(tx, rw) }); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = &appClient{Client: c, userID: uid}
	return nil
}

// AddUser creates a CRM user (systemuser) with sign-in name domainName, or
// returns the one that exists. Its ids are derived from the name.
func (s *Server) AddUser(domainName, firstName, lastName string) (crmclient.User, error) {
	if !strings.Contains(domainName, "@") {
		return crmclient.User{}, fmt.Errorf("democrm: user name %q is not an e-mail address", domainName)
	}
	domainName = strings.ToLower(domainName)
	e := s.schema.byName["systemuser"]
	id := stableID("systemuser", domainName)
	if rw, err := s.st.get(e, id); err == nil {
		return toUser(rw), nil
	} else if !errors.Is(err, errNoRow) {
		return crmclient.User{}, err
	}
	now := s.now()
	rw := &row{entity: e, id: id, created: now, modified: now, data: map[string]any{
		"domainname":                   domainName,
		"internalemailaddress":         domainName,
		"firstname":                    firstName,
		"lastname":                     lastName,
		"fullname":                     strings.TrimSpace(firstName + " " + lastName),
		"azureactivedirectoryobjectid": stableID("entra", domainName),
		"isdisabled":                   false,
	}}
	if err := s.st.write(func(tx *gorm.DB) error { return s.st.put(tx, rw) }); err != nil {
		return crmclient.User{}, err
	}
	return toUser(rw), nil
}

// Users lists the CRM's people (not application users).
func (s *Server) Users() ([]crmclient.User, error) {
	rows, err := s.st.scanAll(s.schema.byName["systemuser"], func(r *row) bool {
		return r.fields()["applicationid"] == nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]crmclient.User, len(rows))
	for i, r := range rows {
		out[i] = toUser(r)
	}
	return out, nil
}

func toUser(r *row) crmclient.User {
	f := r.fields()
	str := func(k string) string { v, _ := f[k].(string); return v }
	return crmclient.User{
		ID: r.id, ObjectID: str("azureactivedirectoryobjectid"), DomainName: str("domainname"),
		FullName: str("fullname"), Email: str("internalemailaddress"), Disabled: f["isdisabled"] == true,
	}
}

// Share gives user userID read and write access to a record they do not own
// (Dataverse GrantAccess).
func (s *Server) Share(kind crmclient.Kind, id, userID string) error {
	e := s.schema.byName[string(kind)]
	if e == nil {
		return fmt.Errorf("democrm: unknown kind %q", kind)
	}
	return s.st.write(func(tx *gorm.DB) error {
		return tx.Save(&shareModel{Entity: e.name, ID: strings.ToLower(id), UserID: strings.ToLower(userID)}).Error
	})
}
