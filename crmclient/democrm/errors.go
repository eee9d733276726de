package democrm

import (
	"fmt"
	"net/http"
)

// apiError is an answer in the OData error format of the Dataverse Web API
// ("Compose HTTP requests and handle errors", section "Parse errors from the
// response"): {"error":{"code":"0x…","message":"…"}}. Codes are those live
// Dataverse sends; the documentation examples often show them empty.
type apiError struct {
	status  int
	code    string
	message string
	header  http.Header // extra response headers (Retry-After)
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func errNotFound(e *entity, id string) *apiError {
	// "Perform conditional operations": "account With Id = … Does Not Exist"
	return &apiError{http.StatusNotFound, "0x80040217", fmt.Sprintf("%s With Id = %s Does Not Exist", e.name, id), nil}
}

func errSegment(seg string) *apiError {
	// "Troubleshoot Dataverse Web API client errors": unknown entity set.
	return &apiError{http.StatusNotFound, "0x8006088a", fmt.Sprintf("Resource not found for the segment '%s'.", seg), nil}
}

func errNoResource(uri string) *apiError {
	return &apiError{http.StatusNotFound, "", fmt.Sprintf("No HTTP resource was found that matches the request URI '%s'.", uri), nil}
}

func errVersionMismatch() *apiError {
	// "Perform conditional operations", section "Apply optimistic concurrency".
	return &apiError{http.StatusPreconditionFailed, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.", nil}
}

func errDuplicate() *apiError {
	// "Perform conditional operations", section "Prevent update in upsert";
	// the same answer for a POST with a primary key that exists (DuplicateRecord).
	return &apiError{http.StatusPreconditionFailed, "0x80040237", "A record with matching key values already exists.", nil}
}

func errUnknownProperty(e *entity, name string) *apiError {
	// "Troubleshoot Dataverse Web API client errors": property in $select.
	return &apiError{http.StatusBadRequest, "0x0", fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, e.name), nil}
}

func errInvalidProperty(e *entity, name string) *apiError {
	// "Troubleshoot Dataverse Web API client errors": property in a body.
	return &apiError{http.StatusBadRequest, "0x0", fmt.Sprintf("An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property '%s' was found in entity 'Microsoft.Dynamics.CRM.%s'. ---> Microsoft.OData.ODataException: Does not support untyped value in non-open type.", name, e.name), nil}
}

func errPayload(e *entity, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "0x80048d19", fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s'  ---->  InnerException : Microsoft.OData.ODataException: %s", e.set, fmt.Sprintf(format, args...)), nil}
}

func errBadRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "0x0", fmt.Sprintf(format, args...), nil}
}

func errTrackingOption(option string) *apiError {
	// "Use change tracking to synchronize data with external systems",
	// section "Query options not supported in Change Tracking Web API request".
	return &apiError{http.StatusBadRequest, "0x0", fmt.Sprintf("The \"%s\" query parameter isn't supported when Change Tracking is enabled.", option), nil}
}

func errExpiredToken() *apiError {
	// ExpiredVersionStamp (web service error codes); tokens older than
	// Organization.ExpireChangeTrackingInDays are refused.
	return &apiError{http.StatusBadRequest, "0x80044352", "Version stamp associated with the client has expired. Please perform a full sync.", nil}
}

func errPrivilege(userID, privilege string, e *entity) *apiError {
	// PrincipalPrivilegeDenied, in the format Dataverse logs it.
	return &apiError{http.StatusForbidden, "0x80040220", fmt.Sprintf("Principal user (Id=%s, type=8, roleCount=1, privilegeCount=%d, accessMode=0), is missing %s privilege on OTC=%d for entity '%s'. context.Caller=%s",
		userID, 120, privilege, otc(e), e.name, userID), nil}
}

func errAccess(userID string, e *entity, id, right string) *apiError {
	// The answer to a record of another user, with user-level privileges only.
	return &apiError{http.StatusForbidden, "0x80040220", fmt.Sprintf("Principal user (Id=%s, type=8, roleCount=1, privilegeCount=120, accessMode=0), is missing %s privilege on %s (Id=%s). context.Caller=%s",
		userID, right, e.name, id, userID), nil}
}

func errUnauthorized() *apiError {
	h := http.Header{}
	h.Set("WWW-Authenticate", `Bearer authorization_uri="/oauth2/token", error="invalid_token"`)
	return &apiError{http.StatusUnauthorized, "", "", h}
}

// otc is the object type code Dataverse shows in privilege errors.
func otc(e *entity) int {
	switch e.name {
	case "contact":
		return 2
	case "systemuser":
		return 8
	case "appointment":
		return 4201
	case "recurringappointmentmaster":
		return 4251
	case "task":
		return 4212
	case "phonecall":
		return 4210
	case "letter":
		return 4207
	case "fax":
		return 4204
	case "email":
		return 4202
	case "activityparty":
		return 135
	}
	return 0
}

func privilegeName(action string, e *entity) string {
	names := map[string]string{
		"contact": "Contact", "appointment": "Activity", "recurringappointmentmaster": "Activity",
		"task": "Activity", "phonecall": "Activity", "letter": "Activity", "fax": "Activity",
		"email": "Activity", "systemuser": "User", "activityparty": "ActivityParty",
	}
	return "prv" + action + names[e.name]
}
