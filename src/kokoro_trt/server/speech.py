"""``POST /v1/audio/speech``: whole files (``model.speak``), chunked audio or server-sent events
(``model.stream``: a short first piece, then sentences)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from .bodies import audio_body, encode_whole, outcome_headers, sse_body
from .disconnect import unless_disconnected
from .encoders import MEDIA_TYPES as MEDIA
from .errors import ApiError, shown
from .jobs import Prepared, prepare
from .schemas import MODELS, SpeechBody, SpeechRequest
from .service import Service, outcome_of
from .state import ServiceDep

router = APIRouter()


def prepared_request(body: SpeechBody, service: Service) -> Prepared:
    """``body`` checked against the loaded model (400 naming the field)."""
    if body.model not in MODELS:
        raise ApiError(
            400,
            f"Unknown model {shown(body.model)}; use one of: {', '.join(MODELS)}.",
            param="model",
            code="model_not_found",
        )
    return prepare(body.input, body, service.model, service.settings, service.lexicon)


@router.post("/v1/audio/speech", response_model=None)
async def speech(body: SpeechRequest, service: ServiceDep, request: Request) -> Response:
    prepared = prepared_request(body, service)
    format, rate = body.response_format, service.sample_rate
    headers = {"X-Sample-Rate": str(rate), **prepared.headers}
    if body.stream_format == "sse":
        pieces, outcome = await unless_disconnected(request, service.stream(prepared.job))
        events = sse_body(pieces, outcome, prepared, format, rate, body.return_timestamps)
        return StreamingResponse(
            events, media_type="text/event-stream", headers={**headers, "Cache-Control": "no-cache"}
        )
    if body.stream or body.stream_format == "audio":
        pieces, _ = await unless_disconnected(request, service.stream(prepared.job))
        return StreamingResponse(audio_body(pieces, prepared, format, rate), media_type=MEDIA[format], headers=headers)
    rendered = await unless_disconnected(request, service.synthesize(prepared.job))
    data = await asyncio.to_thread(encode_whole, rendered, prepared, format, rate)
    headers |= outcome_headers(prepared, outcome_of(rendered))
    return Response(data, media_type=MEDIA[format], headers=headers)
