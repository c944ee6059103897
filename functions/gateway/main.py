"""The gateway function.

Served by `functions-framework --target gateway --source functions/gateway/main.py --asgi`.
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from functions.gateway import routes, telephony
from functions.gateway.context import GatewayContext, context
from functions.http.routing import Router
from voicefleet import observability
from voicefleet.observability.http import metrics_endpoint, observed

settings = observability.setup("gateway")
metrics = metrics_endpoint(settings.metrics_token)

router: Router[GatewayContext] = Router(context.get)
router.add("/healthz", routes.healthz, ["GET"])
router.add("/metrics", lambda request, _: metrics(request), ["GET"])
router.add("/", routes.root, ["POST"])
router.add("/join", routes.join, ["POST"])
router.add("/start", routes.start, ["POST"])
router.add("/api/offer", routes.direct_offer, ["POST", "PATCH"])
router.add("/sessions/{session_id}/api/offer", routes.session_offer, ["POST", "PATCH"])
router.add("/sessions/{session_id}", routes.get_session, ["GET"])
router.add("/sessions/{session_id}", routes.delete_session, ["DELETE"])
router.add("/deadletter", routes.dead_letter, ["POST"])
router.add("/telephony/twilio", telephony.twilio_call, ["POST"])
router.add(telephony.TWILIO_AFTER_STREAM_PATH, telephony.twilio_after_stream, ["POST"])


@functions_framework.aio.http
async def gateway(request: Request) -> Response:
    return await observed("gateway", request, router)
