"""Traditional Chinese to simplified, through OpenCC (the rules are written simplified)."""

from __future__ import annotations

import re
import threading
from functools import cache

import opencc

# Han characters: CJK unified ideographs, extension A, compatibility ideographs.
_HAN_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


_LOCK = threading.Lock()  # one converter shared by the poll and the Slack threads


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _traditional() -> re.Pattern[str]:
    """The characters OpenCC turns into others, asked of OpenCC itself (about 4,000).

    Text with none of them is already simplified (or not Chinese): it skips the converter.
    """
    chars = [chr(code) for start, end in _HAN_RANGES for code in range(start, end)]
    converted = str(_converter().convert("\n".join(chars))).split("\n")
    changed = sorted(a for a, b in zip(chars, converted, strict=False) if a != b)
    return re.compile("[" + "".join(re.escape(ch) for ch in changed) + "]")


def has_han(text: str) -> bool:
    """Whether `text` holds a Chinese character."""
    return _HAN.search(text) is not None


def to_simplified(text: str) -> str:
    """`text` with traditional characters and phrases in simplified form (習近平 → 习近平).

    OpenCC's t2s tables cover Taiwan and Hong Kong spellings alike (會晤, 國事訪問, 臺灣).
    ASCII and simplified text come back unchanged without calling the converter.
    """
    if text.isascii() or _traditional().search(text) is None:
        return text
    with _LOCK:
        return str(_converter().convert(text))
