"""Traditional Chinese to simplified, through OpenCC (the rules are written simplified)."""

from __future__ import annotations

import re
from functools import cache

import opencc

# Han characters (CJK unified ideographs, extension A, compatibility): only text with one
# of them is converted, so ASCII and other scripts never pay for it.
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def has_han(text: str) -> bool:
    """Whether `text` holds a Chinese character."""
    return _HAN.search(text) is not None


def to_simplified(text: str) -> str:
    """`text` with traditional characters and phrases in simplified form (習近平 → 习近平).

    OpenCC's t2s table covers Taiwan and Hong Kong spellings alike (會晤, 國事訪問, 臺灣);
    text without Han characters comes back unchanged at once.
    """
    if _HAN.search(text) is None:
        return text
    return str(_converter().convert(text))
