#!/usr/bin/python3
"""Drives crmdav with python3-caldav (Debian's), as a CalDAV app would.

Usage: caldav_interop.py URL USER PASSWORD
Prints one JSON object with what it saw; the Go test checks it and the CRM.
"""
import json
import sys
from datetime import datetime, timezone

import caldav

url, user, password = sys.argv[1:4]
out = {}
client = caldav.DAVClient(url=url, username=user, password=password)
principal = client.principal()
cals = {c.name: c for c in principal.calendars()}
out["calendars"] = sorted(cals)
events = cals["CRM appointments"]
tasks = cals["CRM tasks"]

events.save_event("""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//crmdav interop//EN
BEGIN:VEVENT
UID:interop-single
DTSTAMP:20261125T100000Z
DTSTART:20270115T100000Z
DTEND:20270115T110000Z
SUMMARY:Interop single
LOCATION:Room 1
END:VEVENT
END:VCALENDAR
""")
# A weekly series whose first instance is two months before the range.
events.save_event("""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//crmdav interop//EN
BEGIN:VEVENT
UID:interop-weekly
DTSTAMP:20261125T100000Z
DTSTART:20261102T090000Z
DTEND:20261102T093000Z
RRULE:FREQ=WEEKLY;BYDAY=MO
SUMMARY:Interop weekly
END:VEVENT
END:VCALENDAR
""")
events.save_event("""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//crmdav interop//EN
BEGIN:VEVENT
UID:interop-outside
DTSTAMP:20261125T100000Z
DTSTART:20270301T100000Z
DTEND:20270301T110000Z
SUMMARY:Interop outside
END:VEVENT
END:VCALENDAR
""")
found = events.date_search(start=datetime(2027, 1, 10, tzinfo=timezone.utc),
                           end=datetime(2027, 1, 20, tzinfo=timezone.utc), expand=False)
out["in_range"] = sorted(str(e.vobject_instance.vevent.summary.value) for e in found)

# Sync tokens: everything, then only what changed.
first = events.objects_by_sync_token(load_objects=False)
out["sync_initial"] = len(list(first))
token = first.sync_token
events.save_event("""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//crmdav interop//EN
BEGIN:VEVENT
UID:interop-late
DTSTAMP:20261125T100000Z
DTSTART:20270116T100000Z
DTEND:20270116T110000Z
SUMMARY:Interop late
END:VEVENT
END:VCALENDAR
""")
later = events.objects_by_sync_token(sync_token=token, load_objects=True)
out["sync_incremental"] = sorted(str(o.vobject_instance.vevent.uid.value) for o in later)

# Edit the single event (If-Match is sent by the library when it has an ETag).
single = events.event_by_uid("interop-single")
single.vobject_instance.vevent.location.value = "Room 2"
single.save()
out["edited_location"] = str(events.event_by_uid("interop-single").vobject_instance.vevent.location.value)

# Todos: create and complete one.
tasks.save_todo("""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//crmdav interop//EN
BEGIN:VTODO
UID:interop-todo
DTSTAMP:20261125T100000Z
SUMMARY:Interop todo
DUE:20270110T170000Z
END:VTODO
END:VCALENDAR
""")
todo = tasks.todo_by_uid("interop-todo")
todo.complete()
out["todo_status"] = str(tasks.todo_by_uid("interop-todo").vobject_instance.vtodo.status.value)
out["open_todos"] = sorted(str(t.vobject_instance.vtodo.summary.value) for t in tasks.todos())
print(json.dumps(out))
