"""``POST /dev/captioned_speech`` (Kokoro-FastAPI's shape): base64 audio with per-word timings, the words
as written ("40–60°C", "3:30 PM.") and their start and end in seconds."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .bodies import captioned, captioned_lines, encode_whole, outcome_headers
from .disconnect import unless_disconnected
from .schemas import CaptionedSpeechRequest
from .service import outcome_of
from .speech import prepared_request
from .state import ServiceDep

router = APIRouter()


@router.post("/dev/captioned_speech", response_model=None)
async def captioned_speech(body: CaptionedSpeechRequest, service: ServiceDep, request: Request) -> Response:
    """``stream`` (the default): one JSON object per line as audio is made (``model.stream``); else one
    object for the whole text (``model.speak``)."""
    prepared = prepared_request(body, service)
    format, rate = body.response_format, service.sample_rate
    headers = {"X-Sample-Rate": str(rate), **prepared.headers}
    if body.stream:
        pieces, _ = await unless_disconnected(request, service.stream(prepared.job))
        lines = captioned_lines(pieces, prepared, format, rate, body.return_timestamps)
        return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)
    rendered = await unless_disconnected(request, service.synthesize(prepared.job))
    data = await asyncio.to_thread(encode_whole, rendered, prepared, format, rate)
    content = captioned(data, format, rendered.words if body.return_timestamps else None)
    return JSONResponse(content, headers=headers | outcome_headers(prepared, outcome_of(rendered)))
