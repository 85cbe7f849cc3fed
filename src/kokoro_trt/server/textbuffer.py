"""WebSocket text as it arrives, handed out a complete sentence at a time, in bounded memory and in time
linear in the text received (a text that never ends a sentence is not rescanned with each message)."""

from __future__ import annotations

import re
import unicodedata

from ..text import split_sentences
from ..text.punctuation import SENTENCE_END
from .errors import ApiError

CONTEXT_CHARS = 256
"""How far back from the end of the held text new text is scanned with it. Whether a full stop ends a
sentence depends on the words around it, so only the last ones can change their answer when more text
comes; every earlier full stop has already been judged (``Dr. Smith``) and is not scanned again."""

_NEXT_SENTENCE = "Next"
"""Appended to the text to ask the splitter whether its last sentence is over whatever follows."""
_SPACE = re.compile(r"\s+")


def split_complete(text: str) -> tuple[str, str]:
    """``(complete sentences, the unfinished rest)`` of ``text``: a sentence is complete once a new one
    could start after it (``"Please call Dr. "`` waits for the name; ``"Hi there. "`` does not)."""
    text = unicodedata.normalize("NFC", text)  # what the splitter's offsets refer to
    *complete, _ = split_sentences(text + _NEXT_SENTENCE)
    done = "".join(complete)
    return done, text[len(done) :]


class SentenceBuffer:
    """Text not yet spoken, at most ``limit`` characters (more is refused with a 413 ``buffer_full``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.text = ""
        """Held text (NFC): one unfinished sentence."""

    def append(self, text: str) -> str:
        """Adds ``text``; returns the sentences it completes, which leave the buffer."""
        if len(self.text) + len(text) > self.limit:
            raise ApiError(
                413,
                f"the text buffer holds at most {self.limit} characters (setting ws_buffer_chars): "
                "end a sentence or send a flush",
                param="text",
                code="buffer_full",
            )
        start = self._rescan_from()
        head, window = self.text[:start], unicodedata.normalize("NFC", self.text[start:] + text)
        done, rest = ("", window) if SENTENCE_END.isdisjoint(window) else split_complete(window)
        if not done:  # (no full stop at all: the splitter need not look, which matters for long words)
            self.text = head + rest
            return ""
        self.text = rest
        return head + done

    def take(self) -> str:
        """Everything held, which leaves the buffer."""
        text, self.text = self.text, ""
        return text

    def _rescan_from(self) -> int:
        """Where the scan of the held text starts: at a word start about ``CONTEXT_CHARS`` before its end."""
        start = len(self.text) - CONTEXT_CHARS
        if start <= 0:
            return 0
        space = _SPACE.search(self.text, start)
        return space.end() if space else start
