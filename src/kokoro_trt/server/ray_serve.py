"""The server on Ray Serve: the same FastAPI app on N replicas behind Ray's HTTP proxy.

``kokoro-trt serve --ray --replicas N`` runs it; ``serve run kokoro_trt.server.ray_serve:build
replicas=2 device=cuda`` (or a ``RayService``'s ``import_path``) builds it from ``key=value`` args. Each
replica loads its own model (one GPU, or ``threads`` CPU threads) from the shared cache, whose lock
makes the first replica export and build while the others wait and reuse. Needs the ``ray`` extra;
nothing else in the package imports this module. See ``docs/ray.md``.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping
from typing import Any

import ray
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, model_validator
from ray import serve
from ray.serve import Application
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import KokoroError
from . import model_loader
from .app import create_app
from .metrics import Metrics
from .ray_metrics import RayMirror
from .settings import Settings
from .state import ModelState

APP_NAME = DEPLOYMENT_NAME = "kokoro"
REPLICA_HEADER = "X-Kokoro-Replica"
"""The response header naming the replica that answered (Ray's replica id)."""


_DELAYS = ("upscale_delay_s", "downscale_delay_s")
""":class:`RayOptions` fields passed to Ray's autoscaling config under their own names, when given."""
_AUTOSCALING_ONLY = ("min_replicas", *_DELAYS)
""":class:`RayOptions` fields that only mean something with ``max_replicas``."""


class RayOptions(BaseModel):
    """How many replicas, and what each one holds. ``max_replicas`` turns on Ray's autoscaling between
    ``min_replicas`` (default 1) and it, on ongoing requests per replica: those running and those waiting
    at the replica or in the proxy; ``replicas`` is then the initial count, and the delays say how long
    Ray waits before adding or removing replicas."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replicas: int | None = Field(None, ge=1, description="replicas; with autoscaling the initial count")
    min_replicas: int | None = Field(None, ge=0, description="autoscaling floor (default 1)")
    max_replicas: int | None = Field(None, ge=1, description="autoscaling ceiling; None: a fixed count")
    target_ongoing_requests: float = Field(2.0, gt=0, description="autoscaling target per replica")
    upscale_delay_s: float | None = Field(None, ge=0, description="load held this long adds replicas; None: Ray's 30 s")
    downscale_delay_s: float | None = Field(None, ge=0, description="idle this long removes some; None: Ray's 600 s")
    threads: int = Field(1, ge=1, description="CPU threads per replica: ONNX Runtime's, and the CPUs Ray reserves")
    gpus: float | None = Field(None, ge=0, description="GPUs per replica; None: 1 on a cuda device, else 0")

    @model_validator(mode="after")
    def _bounds_hold(self) -> RayOptions:
        if self.max_replicas is None:
            for name in _AUTOSCALING_ONLY:
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} needs max_replicas (which turns on autoscaling)")
            return self
        if not self.floor <= self.initial <= self.max_replicas:
            raise ValueError(f"replicas must lie in {self.floor}..{self.max_replicas}, got {self.initial}")
        return self

    @property
    def floor(self) -> int:
        return self.min_replicas if self.min_replicas is not None else 1

    @property
    def initial(self) -> int:
        """Replicas at start: ``replicas``, else the autoscaling floor, at least 1."""
        return self.replicas or max(self.floor, 1)

    def deployment_options(self, settings: Settings) -> dict[str, Any]:
        """``serve.deployment`` options: each replica admits ``queue_size`` requests, as the single
        server does, and each proxy holds at most another ``queue_size`` waiting before answering 503."""
        gpus = self.gpus if self.gpus is not None else float(settings.device.startswith("cuda"))
        options: dict[str, Any] = {
            "max_ongoing_requests": settings.queue_size,
            "max_queued_requests": settings.queue_size,
            "ray_actor_options": {"num_cpus": self.threads, "num_gpus": gpus},
        }
        if self.max_replicas is None:
            return options | {"num_replicas": self.initial}
        scaling = {
            "min_replicas": self.floor,
            "max_replicas": self.max_replicas,
            "initial_replicas": self.initial,
            "target_ongoing_requests": self.target_ongoing_requests,
        }
        delays = {name: getattr(self, name) for name in _DELAYS if getattr(self, name) is not None}
        return options | {"autoscaling_config": scaling | delays}


class ReplicaHeader:
    """Names the replica in each HTTP response's headers (which one served a request, for logs and tests)."""

    def __init__(self, app: ASGIApp, replica: str) -> None:
        self.app, self.header = app, (REPLICA_HEADER.lower().encode(), replica.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, named)


async def load_model(loader: Callable[[], Any], settings: Settings) -> Any:
    """The model, loaded as the single server loads it (``load_attempts`` tries, waits doubling from
    ``load_backoff_s``); after the last failed try a :class:`KokoroError`, so Serve starts the replica
    again. A replica takes no requests until this returns."""
    state = ModelState(settings, Metrics(), {})
    await state.load(loader)
    if state.service is None:
        raise KokoroError(state.error or "model failed to load")
    return state.service.model


@serve.ingress()
class KokoroReplica:
    """One replica: its own model and the same app as ``kokoro-trt serve``, its metrics copied to Ray.

    Serve builds the app (loading the model) after the constructor, then runs its lifespan; the replica
    takes requests once both are done."""

    def __init__(self, settings: Settings, loader: Callable[[], Any]) -> None:
        self.settings, self.loader = settings, loader
        self.mirror: asyncio.Task[None] | None = None

    async def __serve_build_asgi_app__(self) -> FastAPI:
        app = create_app(await load_model(self.loader, self.settings), self.settings)
        app.add_middleware(ReplicaHeader, replica=serve.get_replica_context().replica_tag)
        self.mirror = asyncio.create_task(RayMirror(app.state.metrics.registry).run())
        return app


def application(
    settings: Settings, options: RayOptions | None = None, loader: Callable[[], Any] | None = None
) -> Application:
    """The Serve application: ``options``' replicas of :class:`KokoroReplica`, each loading its model with
    ``loader`` (picklable; default: the model ``settings`` name, on ``options.threads`` threads)."""
    options = options or RayOptions()
    loader = loader or model_loader(settings, options.threads)
    deployment = serve.deployment(KokoroReplica, name=DEPLOYMENT_NAME, **options.deployment_options(settings))
    return deployment.bind(settings, loader)


def build(args: Mapping[str, Any]) -> Application:
    """``serve run kokoro_trt.server.ray_serve:build replicas=2 device=cuda api_key=...``: each arg is a
    :class:`RayOptions` or :class:`Settings` field (the rest from ``KOKORO_TRT_*``, then the defaults).
    ``host`` and ``port`` are Serve's to set there (``serve run --address``, the ``http_options``)."""
    ray_args = {key: value for key, value in args.items() if key in RayOptions.model_fields}
    settings_args = {key: value for key, value in args.items() if key not in ray_args}
    return application(Settings(**settings_args), RayOptions(**ray_args))


def run(settings: Settings, options: RayOptions) -> None:
    """``kokoro-trt serve --ray``: on the Ray cluster at ``$RAY_ADDRESS`` (else a local one started
    here), Serve's proxy on ``settings.host:port`` and the app at ``/``, until Ctrl-C or SIGTERM (``docker
    stop``), which delete the app (a local cluster ends with the command)."""
    ray.init()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # after ray.init, which sets its own
    serve.start(http_options={"host": settings.host, "port": settings.port})
    try:
        serve.run(application(settings, options), name=APP_NAME, route_prefix="/", blocking=True)
    except KeyboardInterrupt:
        serve.delete(APP_NAME)
    except RuntimeError as exc:  # Serve gave up starting the replicas
        raise KokoroError(f"{exc} (the replicas' errors are logged above)") from None
