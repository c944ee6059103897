"""The records function: stores session reports and delivers them to tenants' webhooks.

Served by `functions-framework --target records --source functions/records/main.py --asgi`.
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from functions.http.routing import Router
from functions.records import routes
from functions.records.context import RecordsContext, context
from voicefleet import observability
from voicefleet.observability.http import metrics_endpoint, observed

settings = observability.setup("records")
metrics = metrics_endpoint(settings.metrics_token)

router: Router[RecordsContext] = Router(context.get)
router.add("/healthz", routes.healthz, ["GET"])
router.add("/metrics", lambda request, _: metrics(request), ["GET"])
router.add("/", routes.session_event, ["POST"])
router.add("/deliver", routes.deliver, ["POST"])
router.add("/deadletter", routes.dead_letter, ["POST"])


@functions_framework.aio.http
async def records(request: Request) -> Response:
    return await observed("records", request, router)
