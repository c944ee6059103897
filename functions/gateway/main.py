"""The gateway function.

Served by `functions-framework --target gateway --source functions/gateway/main.py --asgi`.
"""

from __future__ import annotations

from functions.gateway.context import GatewayContext, context
from functions.gateway.routes import (
    calls,
    dead_letters,
    launches,
    reports,
    sessions,
    signalling,
    telephony,
)
from functions.http.app import entry_point, function_router
from functions.http.routing import Router

router: Router[GatewayContext] = function_router("gateway", context.get)
router.add("/", launches.root, ["POST"])
router.add("/join", launches.join, ["POST"])
router.add("/start", launches.start, ["POST"])
router.add("/api/offer", signalling.direct_offer, ["POST", "PATCH"])
router.add("/sessions/{session_id}/api/offer", signalling.session_offer, ["POST", "PATCH"])
router.add("/sessions/{session_id}", sessions.get_session, ["GET"])
router.add("/sessions/{session_id}/report", reports.get_report, ["GET"])
router.add("/sessions/{session_id}", sessions.delete_session, ["DELETE"])
router.add("/deadletter", dead_letters.dead_letter, ["POST"])
router.add("/telephony/twilio", telephony.twilio_call, ["POST"])
router.add(telephony.TWILIO_AFTER_STREAM_PATH, telephony.twilio_after_stream, ["POST"])
router.add(telephony.TWILIO_STATUS_PATH, telephony.twilio_status, ["POST"])
router.add("/telephony/telnyx", telephony.telnyx_call, ["POST"])
router.add(telephony.TELNYX_AFTER_STREAM_PATH, telephony.telnyx_after_stream, ["POST"])
router.add(telephony.TELNYX_EVENTS_PATH, telephony.telnyx_events, ["POST"])
router.add("/calls", calls.place, ["POST"])

gateway = entry_point("gateway", router)
