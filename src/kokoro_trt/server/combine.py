"""``POST /v1/audio/voices/combine`` (Kokoro-FastAPI): a blend of voices saved as a ``.pt`` voice pack.

The body is a JSON string (``"af_sarah+af_jessica"``; our weights syntax ``af_sarah(0.3)+af_jessica(0.7)``
works too) or a list of voice names (mixed equally). The response is the pack, ``[510, 1, 256]``
float32 as ``torch.save`` writes it; the same spec, sent back in ``X-Kokoro-Voice``, works as ``voice``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from ..errors import InvalidInputError
from ..voices import parse_blend
from ..voices.suggest import not_found
from .errors import ApiError
from .jobs import HEADER_PREFIX
from .ptfile import torch_bytes
from .state import ServiceDep
from .voices import OPENAI_VOICES

router = APIRouter()


def blend_spec(voices: str | list[str]) -> str:
    """The blend spec for ``voices`` with OpenAI names mapped; 400 naming ``voices`` when malformed."""
    parts = voices if isinstance(voices, list) else voices.split("+")
    spec = "+".join(OPENAI_VOICES.get(part.strip(), part.strip()) for part in parts)
    try:
        return str(parse_blend(spec))
    except InvalidInputError as exc:
        raise ApiError(400, str(exc), param="voices", code="invalid_voice") from exc


@router.post("/v1/audio/voices/combine", response_model=None)
async def combine(
    voices: Annotated[str | list[str], Body(description="'a+b' or a list of voice names")],
    service: ServiceDep,
) -> Response:
    spec = blend_spec(voices)
    known = set(service.model.voices.names())
    for name in parse_blend(spec).names:
        if name not in known:
            exc = not_found("voice", name, [*known, *OPENAI_VOICES])
            raise ApiError(400, str(exc), param="voices", code="voice_not_found")
    pack = await service.run(service.model.voices.pack, spec)
    data = await asyncio.to_thread(torch_bytes, pack.reshape(len(pack), 1, -1))
    filename = spec.replace("(", "_").replace(")", "") + ".pt"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', f"{HEADER_PREFIX}Voice": spec}
    return Response(data, media_type="application/octet-stream", headers=headers)
