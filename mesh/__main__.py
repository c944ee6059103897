"""`python -m mesh`: the reference Mesh on MESH_HOST:MESH_PORT (127.0.0.1:4446)."""

from __future__ import annotations

import uvicorn

from mesh.app import create_app
from mesh.settings import MeshSettings
from voicefleet import event_loop, observability


def main() -> None:
    observability.setup("mesh")
    settings = MeshSettings()
    event_loop.install()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=None,
    )


if __name__ == "__main__":
    main()
