"""``POST /v1/audio/speech``: whole files, or chunked audio that starts after the first chunk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
from fastapi import APIRouter, Depends
from fastapi.responses import Response, StreamingResponse

from .encoders import MEDIA_TYPES, encode_all, make_encoder
from .errors import ApiError
from .schemas import MODELS, SpeechRequest
from .service import Service
from .state import service_of

router = APIRouter()


@router.post("/v1/audio/speech", response_model=None)
async def speech(body: SpeechRequest, service: Service = Depends(service_of)) -> Response:
    if body.model not in MODELS:
        raise ApiError(400, f"Unknown model {body.model!r}; use one of: {', '.join(MODELS)}.", param="model",
                       code="model_not_found")  # fmt: skip
    job = service.job(body.input, body)
    media_type = MEDIA_TYPES[body.response_format]
    headers = {"X-Sample-Rate": str(service.sample_rate)}
    if not (body.stream or body.stream_format == "audio"):
        audio = await service.synthesize(job)
        data = await asyncio.to_thread(encode_all, body.response_format, audio, service.sample_rate)
        return Response(data, media_type=media_type, headers=headers)
    chunks = await service.stream(job)
    return StreamingResponse(
        encoded(chunks, body.response_format, service.sample_rate), media_type=media_type, headers=headers
    )


async def encoded(chunks: AsyncIterator[np.ndarray], format: str, sample_rate: int) -> AsyncIterator[bytes]:
    """``chunks`` encoded as one continuous ``format`` stream, flushed at the end."""
    encoder = make_encoder(format, sample_rate, streaming=True)
    try:
        async for audio in chunks:
            data = await asyncio.to_thread(encoder.encode, audio)
            if data:
                yield data
        tail = await asyncio.to_thread(encoder.finish)
        if tail:
            yield tail
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
