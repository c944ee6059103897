"""The names of the events the bot sends to the user's interface.

The wire form is `{"type": NAME, "data": {...}}` (see `bot/forwarder.py`); the interface
routes on `type`, so these strings are a public contract: add names, never rename one.
"""

NOTE_CREATED = "note.created"
NOTE_UPDATED = "note.updated"
NOTE_DELETED = "note.deleted"
NOTES_LISTED = "notes.listed"
NOTE_OPENED = "note.opened"

VIEW_OPENED = "view.opened"
VIEW_CLOSED = "view.closed"

APPLET_CREATED = "applet.created"
APPLET_OPENED = "applet.opened"

YOUTUBE_PLAY = "youtube.play"
YOUTUBE_SEARCH = "youtube.search"

PROFILE_UPDATED = "profile.updated"

WINDOW_OPENED = "window.opened"
WINDOW_FOCUSED = "window.focused"
WINDOW_CLOSED = "window.closed"

CALL_ENDING = "call.ending"
