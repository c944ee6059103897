"""The admin function.

Served by `functions-framework --target admin --source functions/admin/main.py --asgi`.
"""

from __future__ import annotations

from functions.admin import records, routes
from functions.admin.context import AdminContext, context
from functions.http.app import entry_point, function_router
from functions.http.routing import Router

router: Router[AdminContext] = function_router("admin", context.get)
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

admin = entry_point("admin", router)
