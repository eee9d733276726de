package democrm

import "sort"

// attrType is a Dataverse AttributeType, as EntityDefinitions reports it.
type attrType string

const (
	tString   attrType = "String"
	tMemo     attrType = "Memo"
	tInteger  attrType = "Integer"
	tBigInt   attrType = "BigInt"
	tDecimal  attrType = "Decimal"
	tDouble   attrType = "Double"
	tMoney    attrType = "Money"
	tBoolean  attrType = "Boolean"
	tDateTime attrType = "DateTime"
	tPicklist attrType = "Picklist"
	tState    attrType = "State"
	tStatus   attrType = "Status"
	tUniqueID attrType = "Uniqueidentifier"
	tLookup   attrType = "Lookup"
	tOwner    attrType = "Owner"
	tEntity   attrType = "EntityName"
)

// attribute is one column of an entity. Lookup columns are read as
// _<name>_value and written through <nav>@odata.bind.
type attribute struct {
	name     string
	typ      attrType
	dateOnly bool // DateTime with DateOnly behaviour: "2006-01-02"
	readOnly bool // computed or system-maintained
	// targets maps the navigation property used to bind a lookup to the
	// entity set it points into.
	targets map[string]string
	def     any // value a created row gets when the body omits the column
	maxLen  int // MaxLength of a String or Memo column; 0 for the default
}

// maxLength is the most characters a String or Memo column holds.
func (a *attribute) maxLength() int {
	switch {
	case a.maxLen > 0:
		return a.maxLen
	case a.typ == tMemo:
		return 1048576
	}
	return 4000
}

// contactMaxLength are the MaxLength values of the contact reference.
var contactMaxLength = map[string]int{
	"firstname": 50, "lastname": 50, "middlename": 50, "nickname": 100, "salutation": 100, "suffix": 10,
	"jobtitle": 100, "department": 100, "assistantname": 100, "managername": 100, "spousesname": 100,
	"emailaddress1": 100, "emailaddress2": 100, "emailaddress3": 100,
	"telephone1": 50, "telephone2": 50, "telephone3": 50, "mobilephone": 50, "fax": 50, "pager": 50,
	"websiteurl":    200,
	"address1_name": 200, "address1_line1": 250, "address1_line2": 250, "address1_line3": 250, "address1_city": 80,
	"address1_stateorprovince": 50, "address1_postalcode": 20, "address1_country": 80, "address1_postofficebox": 20,
	"address2_name": 100, "address2_line1": 250, "address2_line2": 250, "address2_line3": 250, "address2_city": 80,
	"address2_stateorprovince": 50, "address2_postalcode": 20, "address2_country": 80, "address2_postofficebox": 20,
	"description": 2000,
}

// entity is the metadata of one table.
type entity struct {
	name       string // logical name
	set        string // entity set name
	key        string // primary key column
	activity   bool
	partiesNav string // <name>_activity_parties, for activities
	attrs      map[string]*attribute
	names      []string // attribute names, sorted
}

func (e *entity) attr(name string) *attribute { return e.attrs[name] }

// readName is the name under which attribute a appears in a response.
func (a *attribute) readName() string {
	if a.typ == tLookup || a.typ == tOwner {
		return "_" + a.name + "_value"
	}
	return a.name
}

func str(names ...string) []attribute {
	out := make([]attribute, len(names))
	for i, n := range names {
		out[i] = attribute{name: n, typ: tString}
	}
	return out
}

// systemAttrs are maintained by the CRM itself on every table.
func systemAttrs() []attribute {
	return []attribute{
		{name: "createdon", typ: tDateTime, readOnly: true},
		{name: "modifiedon", typ: tDateTime, readOnly: true},
		{name: "versionnumber", typ: tBigInt, readOnly: true},
		{name: "ownerid", typ: tOwner, targets: map[string]string{"ownerid": "systemusers"}},
		{name: "createdby", typ: tLookup, readOnly: true, targets: map[string]string{"createdby": "systemusers"}},
		{name: "modifiedby", typ: tLookup, readOnly: true, targets: map[string]string{"modifiedby": "systemusers"}},
		{name: "statecode", typ: tState, def: int64(0)},
		{name: "statuscode", typ: tStatus, def: int64(1)},
	}
}

// regardingTargets are the tables an activity may regard here, by logical
// name and entity set. Dataverse names each navigation property of the
// polymorphic regardingobjectid lookup regardingobjectid_<target>_<activity>
// (regardingobjectid_contact_task, regardingobjectid_account_appointment).
var regardingTargets = map[string]string{"contact": "contacts"}

// activityAttrs are the columns every activity shares (activitypointer);
// name is the activity's logical name.
func activityAttrs(name string) []attribute {
	regarding := map[string]string{}
	for target, set := range regardingTargets {
		regarding["regardingobjectid_"+target+"_"+name] = set
	}
	a := []attribute{
		{name: "activityid", typ: tUniqueID},
		{name: "subject", typ: tString},
		{name: "description", typ: tMemo},
		{name: "scheduledstart", typ: tDateTime},
		{name: "scheduledend", typ: tDateTime},
		{name: "actualstart", typ: tDateTime},
		{name: "actualend", typ: tDateTime},
		{name: "scheduleddurationminutes", typ: tInteger},
		{name: "actualdurationminutes", typ: tInteger},
		{name: "prioritycode", typ: tPicklist, def: int64(1)},
		{name: "activitytypecode", typ: tEntity, readOnly: true},
		{name: "regardingobjectid", typ: tLookup, targets: regarding},
		{name: "regardingobjecttypecode", typ: tEntity, readOnly: true},
	}
	return append(a, systemAttrs()...)
}

func newEntity(name, set, key string, activity bool, attrs ...[]attribute) *entity {
	e := &entity{name: name, set: set, key: key, activity: activity, attrs: map[string]*attribute{}}
	if activity {
		e.partiesNav = name + "_activity_parties"
	}
	for _, group := range attrs {
		for i := range group {
			a := group[i]
			e.attrs[a.name] = &a
		}
	}
	for n := range e.attrs {
		e.names = append(e.names, n)
	}
	sort.Strings(e.names)
	return e
}

// schema is the subset of Dataverse tables the embedded CRM serves, with the
// logical names and types of the Dataverse Web API reference
// (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/<entity>).
type schema struct {
	byName map[string]*entity
	bySet  map[string]*entity
}

func newSchema() *schema {
	s := &schema{byName: map[string]*entity{}, bySet: map[string]*entity{}}
	add := func(e *entity) { s.byName[e.name] = e; s.bySet[e.set] = e }

	add(newEntity("contact", "contacts", "contactid", false,
		[]attribute{
			{name: "contactid", typ: tUniqueID},
			{name: "fullname", typ: tString, readOnly: true},
			{name: "description", typ: tMemo},
			{name: "birthdate", typ: tDateTime, dateOnly: true},
			{name: "anniversary", typ: tDateTime, dateOnly: true},
			{name: "gendercode", typ: tPicklist},
			{name: "donotemail", typ: tBoolean, def: false},
			{name: "parentcustomerid", typ: tLookup, targets: map[string]string{
				"parentcustomerid_contact": "contacts",
			}},
			{name: "parentcustomeridtype", typ: tEntity, readOnly: true},
		},
		str("firstname", "lastname", "middlename", "nickname", "salutation", "suffix",
			"jobtitle", "department", "assistantname", "managername", "spousesname",
			"emailaddress1", "emailaddress2", "emailaddress3",
			"telephone1", "telephone2", "telephone3", "mobilephone", "fax", "pager",
			"websiteurl",
			"address1_name", "address1_line1", "address1_line2", "address1_line3", "address1_city",
			"address1_stateorprovince", "address1_postalcode", "address1_country", "address1_postofficebox",
			"address2_name", "address2_line1", "address2_line2", "address2_line3", "address2_city",
			"address2_stateorprovince", "address2_postalcode", "address2_country", "address2_postofficebox"),
		systemAttrs()))

	add(newEntity("appointment", "appointments", "activityid", true, activityAttrs("appointment"),
		[]attribute{
			{name: "location", typ: tString},
			{name: "isalldayevent", typ: tBoolean, def: false},
			{name: "globalobjectid", typ: tString},
			{name: "instancetypecode", typ: tPicklist, def: int64(0)},
			{name: "originalstartdate", typ: tDateTime},
			{name: "seriesid", typ: tUniqueID},
			{name: "category", typ: tString},
			{name: "subcategory", typ: tString},
		}))

	add(newEntity("recurringappointmentmaster", "recurringappointmentmasters", "activityid", true, activityAttrs("recurringappointmentmaster"),
		[]attribute{
			{name: "location", typ: tString},
			{name: "isalldayevent", typ: tBoolean, def: false},
			{name: "globalobjectid", typ: tString},
			{name: "instancetypecode", typ: tPicklist, def: int64(1)},
			{name: "category", typ: tString},
			{name: "subcategory", typ: tString},
			// Recurrence pattern (recurringappointmentmaster reference).
			{name: "recurrencepatterntype", typ: tPicklist}, // 0 daily, 1 weekly, 2 monthly, 3 yearly
			{name: "interval", typ: tInteger},
			{name: "daysofweekmask", typ: tInteger}, // Sunday 0x01 … Saturday 0x40
			{name: "dayofmonth", typ: tInteger},
			{name: "instance", typ: tPicklist}, // 1 first … 4 fourth, 5 last
			{name: "monthofyear", typ: tPicklist},
			{name: "firstdayofweek", typ: tInteger},
			{name: "patternstartdate", typ: tDateTime},
			{name: "patternenddate", typ: tDateTime},
			{name: "patternendtype", typ: tPicklist}, // 1 no end, 2 occurrences, 3 end date
			{name: "occurrences", typ: tInteger},
			{name: "starttime", typ: tDateTime},
			{name: "endtime", typ: tDateTime},
			{name: "duration", typ: tInteger},
			{name: "isnthmonthly", typ: tBoolean, def: false},
			{name: "isnthyearly", typ: tBoolean, def: false},
			{name: "isweekdaypattern", typ: tBoolean, def: false},
			{name: "isregenerate", typ: tBoolean, def: false},
			{name: "effectivestartdate", typ: tDateTime},
			{name: "effectiveenddate", typ: tDateTime},
			// Expansion of the series into appointment instances
			// (recurrence.go), maintained by the CRM.
			{name: "deletedexceptionslist", typ: tMemo, readOnly: true},
			{name: "expansionstatecode", typ: tPicklist, readOnly: true}, // 0 unexpanded, 1 partial, 2 full
			{name: "lastexpandedinstancedate", typ: tDateTime, readOnly: true},
			{name: "nextexpansioninstancedate", typ: tDateTime, readOnly: true},
		}))

	add(newEntity("task", "tasks", "activityid", true, activityAttrs("task"),
		[]attribute{
			{name: "percentcomplete", typ: tInteger},
			{name: "category", typ: tString},
			{name: "subcategory", typ: tString},
		}))

	add(newEntity("phonecall", "phonecalls", "activityid", true, activityAttrs("phonecall"),
		[]attribute{
			{name: "phonenumber", typ: tString},
			{name: "directioncode", typ: tBoolean, def: true}, // true outgoing
			{name: "category", typ: tString},
			{name: "subcategory", typ: tString},
		}))

	add(newEntity("letter", "letters", "activityid", true, activityAttrs("letter"),
		[]attribute{
			{name: "address", typ: tMemo},
			{name: "directioncode", typ: tBoolean, def: true},
			{name: "category", typ: tString},
			{name: "subcategory", typ: tString},
		}))

	add(newEntity("fax", "faxes", "activityid", true, activityAttrs("fax"),
		[]attribute{
			{name: "faxnumber", typ: tString},
			{name: "numberofpages", typ: tInteger},
			{name: "coverpagename", typ: tString},
			{name: "tsid", typ: tString},
			{name: "billingcode", typ: tString},
			{name: "directioncode", typ: tBoolean, def: true},
			{name: "category", typ: tString},
			{name: "subcategory", typ: tString},
		}))

	add(newEntity("email", "emails", "activityid", true, activityAttrs("email"),
		[]attribute{
			// Computed from the parties and the send, read only (email reference).
			{name: "sender", typ: tString, readOnly: true},
			{name: "torecipients", typ: tString, readOnly: true},
			{name: "messageid", typ: tString},
			{name: "senton", typ: tDateTime, readOnly: true},
			{name: "directioncode", typ: tBoolean, def: true},
		}))

	add(newEntity("systemuser", "systemusers", "systemuserid", false,
		[]attribute{
			{name: "systemuserid", typ: tUniqueID},
			{name: "domainname", typ: tString},
			{name: "fullname", typ: tString, readOnly: true},
			{name: "firstname", typ: tString},
			{name: "lastname", typ: tString},
			{name: "internalemailaddress", typ: tString},
			{name: "azureactivedirectoryobjectid", typ: tUniqueID},
			{name: "applicationid", typ: tUniqueID},
			{name: "isdisabled", typ: tBoolean, def: false},
			{name: "createdon", typ: tDateTime, readOnly: true},
			{name: "modifiedon", typ: tDateTime, readOnly: true},
			{name: "versionnumber", typ: tBigInt, readOnly: true},
		}))

	add(newEntity("activityparty", "activityparties", "activitypartyid", false,
		[]attribute{
			{name: "activitypartyid", typ: tUniqueID},
			{name: "activityid", typ: tLookup, readOnly: true},
			{name: "partyid", typ: tLookup, targets: map[string]string{
				"partyid_contact":    "contacts",
				"partyid_systemuser": "systemusers",
			}},
			{name: "partyobjecttypecode", typ: tEntity, readOnly: true},
			{name: "participationtypemask", typ: tPicklist},
			{name: "addressused", typ: tString},
			{name: "versionnumber", typ: tBigInt, readOnly: true},
		}))
	for n, l := range contactMaxLength {
		s.byName["contact"].attrs[n].maxLen = l
	}
	return s
}
