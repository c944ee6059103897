"""`voicefleet fleet status|scale|drain`: what changed, and the `kn` command that does the same.

The API client is configured the way kubectl's is: in a pod from its service account (the
scheduled warm pool's CronJob), elsewhere from the kubeconfig (`KUBECONFIG`, `~/.kube/config`).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from control.fleet.knative import Change, FleetError, FleetStatus, RunnerFleet, Scaling
from control.fleet.schedule import SCHEDULE_KEY, TIMEZONE_KEY, ScheduleError, in_force, parse
from voicefleet.contracts import SessionRecord

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Api

RECENT = 10  # sessions listed by `status`, newest first
_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fleet = sub.add_parser("fleet", help="the runner fleet on a Knative cluster")
    fleet.add_argument("-n", "--namespace", help="default: the kubeconfig's, or the pod's")
    fleet.add_argument("--service", default="voicefleet-runner", help="the runner Service")
    actions = fleet.add_subparsers(dest="fleet_command", required=True)
    actions.add_parser("status", help="revisions, pods, autoscaling and recent sessions")
    scale = actions.add_parser("scale", help="set the warm pool (min-scale) and ceiling")
    scale.add_argument("--warm", type=int, help="warm runners (autoscaling min-scale)")
    scale.add_argument("--max", type=int, help="most runners (autoscaling max-scale)")
    scale.add_argument(
        "--schedule",
        metavar="CONFIGMAP",
        help="apply the rule in force in this ConfigMap's warm-pool table (what the CronJob runs)",
    )
    actions.add_parser("drain", help="warm pool to zero; running calls finish first")
    fleet.set_defaults(func=run)


def _clients() -> tuple[ApiClient, str]:
    from kubernetes import config as kube_config
    from kubernetes.client import ApiClient

    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        kube_config.load_incluster_config()  # type: ignore[no-untyped-call]
        return ApiClient(), _NAMESPACE_FILE.read_text().strip()
    # Read now, not at the kubernetes package's import; a list of files, as for kubectl.
    files = os.environ.get("KUBECONFIG") or None
    kube_config.load_kube_config(config_file=files)  # type: ignore[no-untyped-call]
    _, context = kube_config.list_kube_config_contexts(config_file=files)  # type: ignore[no-untyped-call]
    return ApiClient(), context.get("context", {}).get("namespace", "default")


def run(args: argparse.Namespace) -> int:
    """The `fleet` command (the kubernetes package is imported only for it: it is slow)."""
    from kubernetes import config as kube_config
    from kubernetes.client import CoreV1Api, CustomObjectsApi
    from kubernetes.client.exceptions import ApiException

    try:
        client, namespace = _clients()
    except (kube_config.ConfigException, OSError) as exc:
        print(f"voicefleet fleet: no cluster configured: {exc}")
        return 2
    with client:
        fleet = RunnerFleet(
            CustomObjectsApi(client),
            CoreV1Api(client),
            namespace=args.namespace or namespace,
            service=args.service,
        )
        try:
            return _dispatch(args, fleet, CoreV1Api(client))
        except ApiException as exc:
            print(f"voicefleet fleet: the API server answered {exc.status}: {exc.reason}")
            return 1
        except (FleetError, ScheduleError) as exc:
            print(f"voicefleet fleet: {exc}")
            return 2


def _dispatch(args: argparse.Namespace, fleet: RunnerFleet, core: CoreV1Api) -> int:
    if args.fleet_command == "status":
        print(format_status(fleet.status(), _sessions()))
        print(f"kn equivalent: kn service describe {fleet.service} -n {fleet.namespace}")
        return 0
    if args.fleet_command == "drain":
        change = fleet.drain()
        print(format_change(change))
        print("Idle runners stop; each busy one finishes its call before it exits.")
        return 0
    if args.schedule:
        if args.warm is not None or args.max is not None:
            raise FleetError("--schedule decides the pool; do not pass --warm or --max with it")
        config_map = core.read_namespaced_config_map(args.schedule, fleet.namespace)
        data = config_map.data or {}
        rule = in_force(
            parse(data.get(SCHEDULE_KEY, "")),
            datetime.now(UTC),
            data.get(TIMEZONE_KEY, "UTC"),
        )
        print(f"schedule {args.schedule}: line {rule.line} ({rule.cron}) is in force")
        change = fleet.scale(rule.warm, rule.max_scale)
    elif args.warm is None:
        raise FleetError("say --warm N (and optionally --max M), or --schedule CONFIGMAP")
    else:
        change = fleet.scale(args.warm, args.max)
    print(format_change(change))
    return 0


def _describe(scaling: Scaling) -> str:
    ceiling = "unbounded" if scaling.max_scale == 0 else str(scaling.max_scale)
    return f"min-scale {scaling.min_scale}, max-scale {ceiling}"


def format_change(change: Change) -> str:
    if not change.changed:
        return f"unchanged: {_describe(change.before)}\nkn equivalent: {change.kn}"
    return (
        f"changed: {_describe(change.before)} -> {_describe(change.after)} "
        "(a new revision takes the next launches; the old one's calls run to their end)\n"
        f"kn equivalent: {change.kn}"
    )


def format_status(status: FleetStatus, sessions: list[SessionRecord] | None) -> str:
    scaling = status.scaling
    lines = [
        f"{status.service} in {status.namespace}: {'ready' if status.ready else 'NOT READY'}",
        f"  autoscaling: {_describe(scaling)}, target utilization "
        f"{scaling.target_utilization}%, containerConcurrency {scaling.container_concurrency}",
        f"  pods: {status.pods.ready} with a free slot, {status.pods.busy} full, "
        f"{status.pods.starting} starting, {status.pods.draining} draining",
        f"  warm headroom: {status.headroom} launch(es) can start without a cold start",
        "  revisions:",
    ]
    for revision in status.revisions:
        replicas = revision.actual_replicas if revision.actual_replicas is not None else "?"
        lines.append(
            f"    {revision.name}: {revision.traffic_percent}% of launches, "
            f"{replicas} pod(s){'' if revision.ready else ', not ready'}"
        )
    if sessions is not None:
        counts: dict[str, int] = {}
        for record in sessions:
            counts[record.status.value] = counts.get(record.status.value, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
        lines.append(f"  sessions in Redis (not ended): {summary}")
        now = time.time()
        for record in sorted(sessions, key=lambda r: r.created_at, reverse=True)[:RECENT]:
            lines.append(
                f"    {record.session_id} {record.status.value} {record.transport.value} "
                f"tenant {record.tenant}, runner {record.runner or '-'}, "
                f"{now - record.created_at:.0f}s old"
            )
    return "\n".join(lines)


def _sessions() -> list[SessionRecord] | None:
    """Sessions that have not ended, when this machine can reach Redis (`REDIS_URL`)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    import asyncio

    from voicefleet.redis_conn import connect
    from voicefleet.session_store import SessionStore

    async def active() -> list[SessionRecord]:
        redis = connect(url)
        try:
            return await SessionStore(redis).active(None)
        finally:
            await redis.aclose()

    return asyncio.run(active())
