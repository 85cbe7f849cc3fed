"""Read-only endpoints: voices, models, health, metrics and the preview page."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .auth import require_key
from .schemas import MODELS
from .service import Service
from .state import service_of
from .voices import catalog

router = APIRouter()


@router.get("/v1/audio/voices", dependencies=[Depends(require_key)])
async def voices(service: Service = Depends(service_of)) -> dict:
    return catalog(service.model)


@router.get("/v1/models", dependencies=[Depends(require_key)])
async def models() -> dict:
    return {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "kokoro-trt"} for m in MODELS]}


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
