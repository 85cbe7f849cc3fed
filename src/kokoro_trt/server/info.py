"""Read-only endpoints: voices, models, health, metrics and the preview page."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .auth import require_key
from .errors import ApiError, shown
from .schemas import MODELS
from .state import ServiceDep
from .voices import catalog

router = APIRouter()


@router.get("/v1/audio/voices", dependencies=[Depends(require_key)])
async def voices(service: ServiceDep) -> dict:
    return catalog(service.model)


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "kokoro-trt"}


@router.get("/v1/models", dependencies=[Depends(require_key)])
async def models() -> dict:
    return {"object": "list", "data": [_model(m) for m in MODELS]}


@router.get("/v1/models/{model_id}", dependencies=[Depends(require_key)])
async def model(model_id: str) -> dict:
    if model_id not in MODELS:
        raise ApiError(
            404,
            f"Unknown model {shown(model_id)}; use one of: {', '.join(MODELS)}.",
            param="model",
            code="model_not_found",
        )
    return _model(model_id)


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    state = request.app.state.model
    body: dict = {"status": state.status}
    if state.service is not None:
        body |= {"backend": state.service.model.backend_name, "queue_depth": state.service.queue_depth}
    if state.error is not None:
        body["error"] = state.error
    return JSONResponse(body, status_code={"ok": 200, "loading": 503}.get(state.status, 500))


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=metrics.content_type)


@router.get("/", response_class=HTMLResponse)
async def preview() -> str:
    return files("kokoro_trt.server").joinpath("static/index.html").read_text(encoding="utf-8")
