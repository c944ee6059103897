"""`voicefleet dev`: the whole system on one machine, wired as the Knative manifests say.

Embedded Valkey (unless REDIS_URL is set), the gateway function on :4444 with the prebuilt
browser client, a local broker that follows the Trigger manifests, and a runner pool that
follows the runner Service's autoscaling annotations. Ctrl-C drains and stops all of it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from loguru import logger

from devstack.broker import LocalBroker
from devstack.browser_access import ADMIN_COOKIE, BrowserAccess, prebuilt_client
from devstack.local_llm import MODEL_ALIAS, LocalLLMServer
from devstack.manifests import (
    GATEWAY_SERVICE,
    RECORDS_SERVICE,
    RUNNER_SERVICE,
    default_knative_dir,
    load_config_env,
    load_runner_scaling,
    load_triggers,
)
from devstack.mesh_proxy import MeshProxy, beside
from devstack.pool import TARGETS_PATH, RunnerPool, fit_to_host, usable_cores
from devstack.ports import free_port
from devstack.same_origin import SameOriginCookies
from devstack.web import page
from voicefleet.redis_conn import EmbeddedRedis


@dataclass
class DevOptions:
    host: str = "127.0.0.1"
    gateway_port: int = 4444
    admin_port: int = 4445
    mesh_port: int = 4446
    warm: int | None = None
    max: int | None = None
    slots: int | None = None  # calls a pod holds (else the manifest's containerConcurrency)
    scale_down_delay_s: float | None = None
    api_key: str | None = None
    admin_key: str | None = None
    redis_url: str | None = None
    knative_dir: Path = field(default_factory=default_knative_dir)
    # Ctrl-C stops the stack within 5 s, calls or not: a call gets this long to end, then
    # its runner is killed (the local LLM gets 1 s, the servers stop at once).
    stop_grace_s: float = 2.0
    zygote: bool = True  # pods fork their slots from a preloaded parent (runner/zygote.py)
    runner_env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Server:
    name: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str


class PortInUse(RuntimeError):
    pass


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"{host}:{port} is in use (another dev stack?): {exc.strerror}") from exc
    sock.listen(2048)
    return sock


async def _serve(
    name: str, app: Any, host: str, port: int, sock: socket.socket | None = None
) -> _Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", log_config=None,
        timeout_graceful_shutdown=1,  # a request still open then (a long poll) is cut
    )  # fmt: skip
    server = uvicorn.Server(config)
    sock = sock or config.bind_socket()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return _Server(name, server, task, f"http://{host}:{sock.getsockname()[1]}")


class DevStack:
    def __init__(self, options: DevOptions) -> None:
        self.options = options
        self.redis_url = options.redis_url or os.environ.get("REDIS_URL")
        chosen = options.api_key or os.environ.get("VOICEFLEET_API_KEY")
        self.key_from_env = chosen is not None
        self.api_key = chosen or secrets.token_urlsafe(18)
        admin_chosen = options.admin_key or os.environ.get("VOICEFLEET_ADMIN_KEY")
        self.admin_key_from_env = admin_chosen is not None
        self.admin_key = admin_chosen or secrets.token_urlsafe(18)
        self._embedded: EmbeddedRedis | None = None
        self._llm: LocalLLMServer | None = None
        self._servers: list[_Server] = []
        self.pool: RunnerPool | None = None
        self.broker: LocalBroker | None = None
        self.gateway_url = ""
        self.admin_url = ""
        self.runner_targets_url = ""
        self.mesh_url = ""
        self._mesh_app: Any = None
        self._mesh_proxy: MeshProxy | None = None

    async def start(self) -> None:
        opts = self.options
        # Taken first so that a busy port fails the start before anything else is running;
        # served last so that its /healthz answers only once the whole stack is up.
        gateway_sock = _bind(opts.host, opts.gateway_port)
        admin_sock = _bind(opts.host, opts.admin_port)
        own_mesh = not os.environ.get("MESH_URL")
        mesh_sock = _bind(opts.host, opts.mesh_port) if own_mesh else None
        if not self.redis_url:
            # Started from the event loop's thread, which lives as long as the stack: the
            # kernel ends the server with that thread, should the stack be killed.
            self._embedded = EmbeddedRedis(tied=True)
            self.redis_url = self._embedded.start()
            logger.info("embedded Valkey at {}", self.redis_url)
        scaling = load_runner_scaling(opts.knative_dir)
        updates: dict[str, Any] = {}
        if opts.warm is not None:
            updates["min_scale"] = opts.warm
        if opts.max is not None:
            updates["max_scale"] = max(opts.max, updates.get("min_scale", scaling.min_scale))
        if opts.scale_down_delay_s is not None:
            updates["scale_down_delay_s"] = opts.scale_down_delay_s
        if opts.slots is not None:
            updates["container_concurrency"] = opts.slots
        scaling = scaling.model_copy(update=updates)
        if opts.max is None:
            cores, manifest_max = usable_cores(), scaling.max_scale
            scaling = fit_to_host(scaling, cores)
            if scaling.max_scale < manifest_max:
                logger.info(
                    "at most {} runners: this host has {} cores and a runner requests {} CPU"
                    " (the manifest's max-scale {} counts a cluster; --max overrides)",
                    scaling.max_scale,
                    cores,
                    f"{scaling.cpu_request:g}",
                    manifest_max,
                )

        # The settings ConfigMap, as the Services' envFrom gives it; the shell's own values win.
        config_env = {
            k: v for k, v in load_config_env(opts.knative_dir).items() if k not in os.environ
        }
        os.environ.update(config_env)
        shared_env = {"REDIS_URL": self.redis_url}
        llm_env = await self._start_llm()
        mesh_env = await self._start_mesh(mesh_sock) if mesh_sock is not None else {}
        # The broker first: runners publish session events to it (K_SINK) as the SinkBindings
        # say; it resolves Services by name when it delivers, so they may come up after it.
        urls: dict[str, str] = {}
        self.broker = LocalBroker(load_triggers(opts.knative_dir), urls.__getitem__)
        broker_server = await _serve("broker", self.broker.app, opts.host, 0)
        self._servers.append(broker_server)
        logger.info("broker at {}", broker_server.url)  # K_SINK for a gateway run beside it
        sink_env = {
            "K_SINK": broker_server.url + "/",
            # Reports too large for one event wait here for the records function.
            "VOICEFLEET_BLOB_DIR": os.environ.get(
                "VOICEFLEET_BLOB_DIR", str(Path.cwd() / ".voicefleet" / "blobs")
            ),
        }
        self.pool = RunnerPool(
            scaling,
            {**shared_env, **sink_env, **llm_env, **mesh_env, **opts.runner_env},
            stop_grace_s=opts.stop_grace_s,
            zygote=opts.zygote,
        )
        pool_server = await _serve("runner pool", self.pool.app, opts.host, 0)
        self._servers.append(pool_server)
        self.runner_targets_url = pool_server.url + TARGETS_PATH
        urls[RUNNER_SERVICE] = pool_server.url

        # The functions read their settings from the environment, as they do in a container.
        os.environ.update(
            {
                **shared_env,
                **sink_env,
                "VOICEFLEET_API_KEY": self.api_key,
                "VOICEFLEET_ADMIN_KEY": self.admin_key,
            }
        )
        from functions import asgi_app
        from functions.gateway.asgi import with_media_streams

        # The gateway as Knative runs it: its function and the phone calls' media streams.
        gateway, admin = with_media_streams(asgi_app("gateway")), asgi_app("admin")
        host, port = gateway_sock.getsockname()[:2]
        urls[GATEWAY_SERVICE] = f"http://{host}:{port}"
        # Only the broker calls the records function: it gets a port of its own, unannounced.
        records_server = await _serve("records", asgi_app("records"), opts.host, 0)
        self._servers.append(records_server)
        urls[RECORDS_SERVICE] = records_server.url
        await self.pool.start()
        admin_pages = {"/operator": page("operator")}
        admin_server = await _serve(
            "admin",
            # The admin key speaks to live calls: only the operator page's own requests get it.
            SameOriginCookies(
                BrowserAccess(admin, self.admin_key, admin_pages, "/operator", ADMIN_COOKIE)
            ),
            opts.host,
            admin_sock.getsockname()[1],
            admin_sock,
        )
        self._servers.append(admin_server)
        self.admin_url = admin_server.url
        gateway_pages = {"/app": page("app"), "/client": prebuilt_client()}
        gateway_api = self._with_mesh_proxy(gateway, mesh_env)
        gateway_server = await _serve(
            "gateway",
            # As on the admin side: another local page must not start calls on the dev key.
            SameOriginCookies(BrowserAccess(gateway_api, self.api_key, gateway_pages, "/app")),
            opts.host,
            port,
            gateway_sock,
        )
        self._servers.append(gateway_server)
        self.gateway_url = gateway_server.url

    def _with_mesh_proxy(self, gateway: Any, mesh_env: dict[str, str]) -> Any:
        """The gateway, with the interface's read-only Mesh proxy at `/mesh/` when there is a
        Mesh and a service token to ask it with (the runners' own)."""
        url = mesh_env.get("MESH_URL") or os.environ.get("MESH_URL")
        token = mesh_env.get("MESH_TOKEN") or os.environ.get("MESH_TOKEN")
        if not (url and token):
            return gateway
        from functions.gateway.settings import GatewaySettings

        self._mesh_proxy = MeshProxy(url, token, GatewaySettings().tenants_by_key())
        return beside(gateway, self._mesh_proxy)

    async def _start_mesh(self, sock: socket.socket) -> dict[str, str]:
        """The reference Mesh on its own port, over SQLite in `.voicefleet/` unless
        MESH_DATABASE_URL says otherwise; the runners get its URL and a fresh service token."""
        from mesh.app import create_app
        from mesh.settings import MeshSettings

        # A chosen service token (MESH_SERVICE_TOKEN) lets another process know it, e.g. tests
        # that check no log line ever holds it.
        token = os.environ.get("MESH_SERVICE_TOKEN") or secrets.token_urlsafe(24)
        database = os.environ.get("MESH_DATABASE_URL")
        if not database:
            data_dir = Path.cwd() / ".voicefleet"
            data_dir.mkdir(exist_ok=True)
            database = f"sqlite:///{data_dir / 'mesh.db'}"
        self._mesh_app = create_app(
            MeshSettings(
                database_url=database,
                service_token=token,
                tokens=os.environ.get("MESH_TOKENS", ""),
            )
        )
        await self._mesh_app.state.prepare()
        server = await _serve(
            "mesh", self._mesh_app, self.options.host, sock.getsockname()[1], sock
        )
        self._servers.append(server)
        self.mesh_url = server.url + "/graphql"
        logger.info("Mesh at {} ({})", self.mesh_url, database.split("://", 1)[0])
        return {"MESH_URL": self.mesh_url, "MESH_TOKEN": token}

    async def _start_llm(self) -> dict[str, str]:
        """The local LLM, unless an OpenAI key or an OpenAI-compatible server is configured."""
        if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
            return {}
        self._llm = LocalLLMServer(free_port(self.options.host), host=self.options.host)
        await self._llm.start()
        return {"OPENAI_BASE_URL": self._llm.url, "OPENAI_MODEL": MODEL_ALIAS}

    async def stop(self) -> None:
        """Drain runners, then stop broker, servers and Redis: nothing is left running."""
        if self.pool is not None:
            await self.pool.close()
        # Nothing asks the local LLM once the runners are gone: it stops while the rest does.
        llm = asyncio.create_task(self._llm.stop()) if self._llm is not None else None
        if self.broker is not None:
            await self.broker.close()
        for server in reversed(self._servers):
            server.server.should_exit = True
        await asyncio.gather(*(s.task for s in self._servers), return_exceptions=True)
        from functions.admin import context as admin_context
        from functions.gateway import context as gateway_context
        from functions.records import context as records_context

        await gateway_context.context.reset()
        await admin_context.context.reset()
        await records_context.context.reset()
        if self._mesh_proxy is not None:
            await self._mesh_proxy.aclose()
        if self._mesh_app is not None:
            await self._mesh_app.state.engine.dispose()
        if llm is not None:
            await llm
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)


async def run(options: DevOptions) -> None:
    stack = DevStack(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start()
        assert stack.pool is not None
        # A key the user chose is theirs to know; a generated one is shown once, here.
        key_note = "$VOICEFLEET_API_KEY" if stack.key_from_env else stack.api_key
        admin_note = "$VOICEFLEET_ADMIN_KEY" if stack.admin_key_from_env else stack.admin_key
        runner_metrics = ", ".join(f"{p.url}/metrics" for p in stack.pool.pods) or "none yet"
        print(
            f"\nvoicefleet dev stack is up ({len(stack.pool.pods)} warm runner pod(s) of "
            f"{stack.pool.slots} slot(s)).\n"
            f"  interface:      {stack.gateway_url}/\n"
            f"  prebuilt:       {stack.gateway_url}/client/ (loads from the internet)\n"
            f"  gateway:        {stack.gateway_url}\n"
            f"  API key:        {key_note}\n"
            f"  admin:          {stack.admin_url} (operator page: {stack.admin_url}/)\n"
            f"  admin key:      {admin_note}\n"
            f"  Mesh (GraphQL): {stack.mesh_url or os.environ.get('MESH_URL', '')}\n"
            f"  metrics:        {stack.gateway_url}/metrics (gateway), "
            f"{stack.admin_url}/metrics (admin)\n"
            f"  runner metrics: {runner_metrics} (each pod's, by slot; Prometheus "
            f"http_sd: {stack.runner_targets_url})\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        await stop.wait()
        logger.info("stopping the dev stack")
    finally:
        await stack.stop()
