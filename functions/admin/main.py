"""The admin function.

Served by `functions-framework --target admin --source functions/admin/main.py --asgi`.
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from functions.admin import records, routes
from functions.admin.context import AdminContext, context
from functions.http.routing import Router
from voicefleet import observability
from voicefleet.observability.http import metrics_endpoint, observed

settings = observability.setup("admin")
metrics = metrics_endpoint(settings.metrics_token)

router: Router[AdminContext] = Router(context.get)
router.add("/healthz", routes.healthz, ["GET"])
router.add("/metrics", lambda request, _: metrics(request), ["GET"])
router.add("/", routes.root, ["POST"])
router.add("/admin", routes.admin, ["POST"])
router.add("/admin/messages/{message_id}", routes.get_message, ["GET"])
router.add("/sessions", routes.list_sessions, ["GET"])
router.add("/sessions/{session_id}", routes.get_session, ["GET"])
router.add("/sessions/{session_id}/report", records.get_report, ["GET"])
router.add("/reports", records.list_reports, ["GET"])
router.add("/webhooks", records.create_webhook, ["POST"])
router.add("/webhooks", records.list_webhooks, ["GET"])
router.add("/webhooks/{webhook_id}", records.delete_webhook, ["DELETE"])
router.add("/webhooks/{webhook_id}/deliveries", records.list_deliveries, ["GET"])
router.add(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", records.replay_delivery, ["POST"]
)


@functions_framework.aio.http
async def admin(request: Request) -> Response:
    return await observed("admin", request, router)
