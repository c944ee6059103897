"""Every Prometheus metric voicefleet exports, defined once, in the process's default registry.

One module so that names, labels and buckets are reviewed together and the dashboard
(`knative/observability/`) can be checked against them. Labels are bounded sets only: a
service, a route template, a transport, a status, a stage, a tool name. Never a session id, a
room URL or a user id: those belong in logs and traces, where one call can be found.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets: HTTP answers are milliseconds; launches and turns are around a second;
# sessions are minutes.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_TURN = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_LAUNCH = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_SESSION = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)

# --- every HTTP service ------------------------------------------------------------------------

HTTP_REQUESTS = Histogram(
    "voicefleet_http_request_duration_seconds",
    "HTTP requests by service, route template, method and status (a runner's launch is "
    "held for its whole session, so its route is timed by the session metrics instead).",
    ["service", "route", "method", "status"],
    buckets=_FAST,
)

# --- gateway -----------------------------------------------------------------------------------

LAUNCHES = Counter(
    "voicefleet_gateway_launches_total",
    "Launch attempts by transport and outcome: queued (sent to the broker), duplicate (an "
    "idempotent retry), sink_refused (the broker did not take it), no_sink.",
    ["transport", "outcome"],
)
OFFER_RELAY = Histogram(
    "voicefleet_gateway_signal_relay_seconds",
    "Gateway to runner and back through Redis: an SDP offer or ICE candidates, by outcome "
    "(ok, refused, timeout). A cold start shows up here as a slow offer.",
    ["kind", "outcome"],
    buckets=_LAUNCH,
)
DEAD_LETTERS = Counter(
    "voicefleet_gateway_dead_letters_total",
    "Launches the broker gave up on (no runner took them); each marks its session failed.",
)

# --- admin -------------------------------------------------------------------------------------

# The admin message types the admin function knows (functions.admin.schemas.KNOWN, checked by a
# test); any other type is labelled `other`.
ADMIN_TYPES = frozenset(
    {"say", "append_context", "update_prompts", "reload_context", "end_session"}
)


def admin_type(kind: str) -> str:
    return kind if kind in ADMIN_TYPES else "other"


ADMIN_MESSAGES = Counter(
    "voicefleet_admin_messages_total",
    "Admin messages by type (known types; others are `other`) and outcome at the admin "
    "function: queued, duplicate, queue_full.",
    ["type", "outcome"],
)
ADMIN_QUEUE_DEPTH = Histogram(
    "voicefleet_admin_queue_depth",
    "Messages already waiting for the bot when one more was queued (a bot that stopped "
    "draining shows as a growing depth).",
    buckets=(0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
ADMIN_DELIVERY = Histogram(
    "voicefleet_admin_delivery_seconds",
    "From a message being queued to its bot taking it (measured in the runner).",
    buckets=_FAST,
)
ADMIN_HANDLED = Counter(
    "voicefleet_bot_admin_messages_total",
    "Admin messages a bot took, by type and what it did with them (processed, rejected).",
    ["type", "outcome"],
)

# --- runner ------------------------------------------------------------------------------------

SESSIONS = Counter(
    "voicefleet_runner_sessions_total",
    "Sessions by final status (ended, failed, duplicate) and reason (a fixed set; see "
    "voicefleet.observability.reasons).",
    ["status", "reason"],
)
LAUNCH_TO_READY = Histogram(
    "voicefleet_runner_launch_to_ready_seconds",
    "From the gateway creating the session to the bot being in the call (client connected or "
    "room joined); `start` is cold when the launch had to wait for this runner to start.",
    ["start"],
    buckets=_LAUNCH,
)
LAUNCH_TO_FIRST_AUDIO = Histogram(
    "voicefleet_runner_launch_to_first_audio_seconds",
    "From the gateway creating the session to the bot's first audio (its greeting).",
    ["start"],
    buckets=_LAUNCH,
)
SESSION_DURATION = Histogram(
    "voicefleet_runner_session_duration_seconds",
    "How long claimed sessions ran, by final status.",
    ["status"],
    buckets=_SESSION,
)
RUNNER_BUSY = Gauge(
    "voicefleet_runner_busy",
    "1 while this runner holds a session (containerConcurrency 1: a busy pod takes no launch).",
)
RUNNER_PRELOADED = Gauge(
    "voicefleet_runner_preloaded",
    "1 once this runner has loaded its models and can take a launch (a warm runner).",
)
RUNNER_DRAINING = Gauge(
    "voicefleet_runner_draining",
    "1 once this runner got SIGTERM: it finishes its session and takes no new one.",
)

EVENTS_SPOOLED = Counter(
    "voicefleet_runner_events_spooled_total",
    "Session events the broker's ingress did not take within its retries, kept in the pod's "
    "event spool to be sent again (voicefleet.event_spool), by event type.",
    ["type"],
)
EVENTS_SPOOL_DROPPED = Counter(
    "voicefleet_runner_events_spool_dropped_total",
    "Session events dropped from the event spool, by event type: the oldest when it is "
    "full, or one the broker refused for good. Each is a report or a webhook lost.",
    ["type"],
)

# --- bot (inside the runner process) -------------------------------------------------------------

STAGE_LATENCY = Histogram(
    "voicefleet_bot_stage_seconds",
    "Per-turn stage latencies from Pipecat's metrics frames: vad_stop (the VAD's stop "
    "window), stt, llm_first_token, tts_first_audio, and turn (end of the user's speech to "
    "the bot's first audio).",
    ["stage"],
    buckets=_TURN,
)
INTERRUPTIONS = Counter(
    "voicefleet_bot_interruptions_total",
    "Bot turns cut short by the user speaking over them.",
)
BARGE_IN_HOLDS = Counter(
    "voicefleet_bot_barge_in_holds_total",
    "Pauses of the bot's voice at a first sound from the user (BOT_BARGE_IN_HOLD_S), by "
    "outcome: speech (an interruption followed), not_speech (the bot went on after a gap: "
    "the feature's cost, a stutter per rejected sound).",
    ["outcome"],
)
EARLY_TRANSCRIPTS = Counter(
    "voicefleet_bot_early_transcripts_total",
    "Whisper decodes started when the user paused (BOT_WHISPER_EARLY), by outcome: used (the "
    "turn took it), wasted (the user went on speaking; the CPU it took is the feature's cost).",
    ["outcome"],
)
TOOL_CALLS = Counter(
    "voicefleet_bot_tool_calls_total",
    "Tool calls by tool (the toolbox's names; anything else is `unknown`) and outcome (ok, "
    "error: the LLM got an error result).",
    ["tool", "outcome"],
)
TOOL_DURATION = Histogram(
    "voicefleet_bot_tool_call_seconds",
    "Tool call latency by tool, Mesh requests included.",
    ["tool"],
    buckets=_FAST,
)
MESH_REQUESTS = Counter(
    "voicefleet_bot_mesh_requests_total",
    "Mesh GraphQL requests by outcome: ok, or the error kind (not_found, bad_input, "
    "unauthorized, unavailable, error).",
    ["outcome"],
)
