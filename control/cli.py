"""The `voicefleet` command: the dev stack, the services, and the benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from voicefleet import event_loop


def _dev(args: argparse.Namespace) -> int:
    from voicefleet import observability

    # People read the dev stack's output; its runners inherit the choice. LOG_FORMAT=json
    # shows what a cluster's log pipeline gets.
    os.environ.setdefault("LOG_FORMAT", "text")
    observability.setup("devstack")
    from devstack.stack import DevOptions, PortInUse, run

    options = DevOptions(
        host=args.host,
        gateway_port=args.port,
        admin_port=args.admin_port,
        mesh_port=args.mesh_port,
        warm=args.warm,
        max=args.max,
        scale_down_delay_s=args.scale_down_delay,
        slots=args.slots,
        zygote=not args.no_zygote,
    )
    if args.knative_dir:
        options.knative_dir = Path(args.knative_dir)
    if args.overlay:
        from devstack.manifests import ManifestError, overlay_dir

        try:
            options.knative_dir = overlay_dir(
                args.overlay, Path(args.knative_dir) if args.knative_dir else None
            )
        except ManifestError as exc:
            print(f"voicefleet dev: {exc}", file=sys.stderr)
            return 2
    try:
        event_loop.install()
        asyncio.run(run(options))
    except PortInUse as exc:
        print(f"voicefleet dev: {exc}", file=sys.stderr)
        return 1
    return 0


def _runner(_: argparse.Namespace) -> int:
    from runner.__main__ import main

    return main()


def _function(args: argparse.Namespace) -> int:
    from functions import function_source

    """An HTTP function on functions-framework, as its container runs it."""
    name = args.command
    source = function_source(name)
    # This interpreter's functions-framework, whether or not its scripts are on PATH.
    argv = [sys.executable, "-m", "functions_framework", "--target", name]
    argv += ["--source", str(source), "--asgi"]
    if name == "gateway":
        # With the phone calls' media streams (WebSockets), as its Knative Service runs it.
        argv = [sys.executable, "-m", "uvicorn", "functions.gateway.asgi:create_app", "--factory"]
    argv += ["--host", args.host, "--port", str(args.port)]
    os.execv(argv[0], argv)


def _mesh(_: argparse.Namespace) -> int:
    from mesh.__main__ import main

    main()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voicefleet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the whole stack locally (gateway on :4444)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=4444, help="gateway port (default 4444)")
    dev.add_argument("--admin-port", type=int, default=4445, help="admin port (default 4445)")
    dev.add_argument("--mesh-port", type=int, default=4446, help="Mesh port (default 4446)")
    dev.add_argument("--warm", type=int, help="warm runner pods (the manifest's min-scale)")
    dev.add_argument(
        "--slots",
        type=int,
        help="calls a runner pod holds (overrides the manifest's containerConcurrency)",
    )
    dev.add_argument(
        "--max",
        type=int,
        help="most runners (default: the manifest's max-scale, at most what this host's cores"
        " cover of the runner's requests.cpu)",
    )
    dev.add_argument(
        "--scale-down-delay", type=float, help="seconds an idle extra runner lives (manifest)"
    )
    dev.add_argument(
        "--knative-dir",
        help="kustomization to follow (default: the repo's knative/base/); with --overlay, the"
        " folder holding overlays/",
    )
    dev.add_argument("--overlay", help="follow knative/overlays/OVERLAY (dev, production)")
    dev.add_argument(
        "--no-zygote",
        action="store_true",
        help="start each slot as its own Python process instead of forking the pod's zygote",
    )
    dev.set_defaults(func=_dev)

    from control.fleet.commands import add_parser as add_fleet

    add_fleet(sub)

    runner = sub.add_parser("runner", help="run one runner (configured by environment)")
    runner.set_defaults(func=_runner)

    mesh = sub.add_parser("mesh", help="run the reference Mesh (MESH_* settings)")
    mesh.set_defaults(func=_mesh)

    for name in ("gateway", "admin"):
        function = sub.add_parser(name, help=f"run the {name} function on functions-framework")
        function.add_argument("--host", default="0.0.0.0")
        function.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
        function.set_defaults(func=_function)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
