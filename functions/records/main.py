"""The records function: stores session reports and delivers them to tenants' webhooks.

Served by `functions-framework --target records --source functions/records/main.py --asgi`.
"""

from __future__ import annotations

from functions.http.app import entry_point, function_router
from functions.http.routing import Router
from functions.records import routes
from functions.records.context import RecordsContext, context

router: Router[RecordsContext] = function_router("records", context.get)
router.add("/", routes.session_event, ["POST"])
router.add("/deliver", routes.deliver, ["POST"])
router.add("/deadletter", routes.dead_letter, ["POST"])

records = entry_point("records", router)
