"""Bounds on a feed document before feedparser sees it: text elements cut, raw markup wrapped.

feedparser's cost is per XML event: every entity reference in escaped HTML and every tag of
raw (unescaped) HTML inside a summary is one Python callback, so 5 MB of `&lt;!--` took
about a second, and 5 MB of raw `<b>x</b>` six. Here, byte-level and linear, before parsing:
the content of each text element (description, summary, content, title…) is cut to
ELEMENT_BYTES (to SMALL_BYTES once the feed has used FEED_BYTES), and long content with raw
markup or entities becomes one CDATA section, which feedparser reads as a single string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ELEMENT_BYTES = 16 * 1024  # what html_to_text looks at is 20 × the text limit anyway
FEED_BYTES = 512 * 1024  # element content kept in full per document, in all
SMALL_BYTES = 1024  # per element once FEED_BYTES is spent
RAW_WRAP_BYTES = 1024  # raw markup up to this size is left to feedparser

_START = re.compile(
    rb"<((?:[A-Za-z_][\w.-]*:)?(?:description|summary|content|encoded|title|subtitle))"
    rb"(?:\s[^<>]{0,4000})?>",
    re.IGNORECASE,
)
_CDATA_OPEN, _CDATA_CLOSE = b"<![CDATA[", b"]]>"
# XML's own entities, `&amp;` last (numeric references stay: the HTML step decodes them)
_XML_ENTITIES = (
    (b"&lt;", b"<"),
    (b"&gt;", b">"),
    (b"&quot;", b'"'),
    (b"&apos;", b"'"),
    (b"&amp;", b"&"),
)


@dataclass(frozen=True, slots=True)
class Bounded:
    """The bounded document, and how many elements were cut or wrapped."""

    body: bytes
    cut: int
    wrapped: int


def bound_elements(body: bytes) -> Bounded:
    """Cut over-long text elements of an XML feed and wrap raw markup in CDATA (see module)."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: bytes cannot be cut safely
        return Bounded(body, 0, 0)
    parts: list[bytes] = []
    pos = copied = cut = wrapped = 0
    spent = 0
    closers: dict[bytes, re.Pattern[bytes]] = {}
    while (start := _START.search(body, pos)) is not None:
        name = start.group(1)
        if name not in closers:
            closers[name] = re.compile(rb"</" + re.escape(name) + rb"\s*>")
        close = closers[name].search(body, start.end())
        if close is None:
            break
        content = body[start.end() : close.start()]
        pos = close.end()
        allowed = ELEMENT_BYTES if spent < FEED_BYTES else SMALL_BYTES
        spent += min(len(content), allowed)
        if len(content) <= RAW_WRAP_BYTES:
            continue
        new = _shorten(content, allowed)
        if new is content:
            continue
        cut += len(content) > allowed
        wrapped += new.startswith(_CDATA_OPEN) and not content.lstrip().startswith(_CDATA_OPEN)
        parts += [body[copied : start.end()], new]
        copied = close.start()
    if not parts:
        return Bounded(body, 0, 0)
    parts.append(body[copied:])
    return Bounded(b"".join(parts), cut, wrapped)


def _shorten(content: bytes, allowed: int) -> bytes:
    """`content` cut to about `allowed` bytes and still well-formed; itself if nothing to do."""
    head = content[:allowed]
    if b"<" not in content and b"&" in head:  # escaped HTML: unescape into one CDATA section
        amp = head.rfind(b"&")
        if head.find(b";", amp) < 0:  # do not leave half an entity
            head = head[:amp]
        for entity, char in _XML_ENTITIES:
            head = head.replace(entity, char)
        return _cdata(_utf8_whole(head))
    at = 0
    while (lt := head.find(b"<", at)) >= 0:
        if not head.startswith(_CDATA_OPEN, lt):  # raw markup: one CDATA section instead
            return _cdata(_utf8_whole(head))
        end = head.find(_CDATA_CLOSE, lt + len(_CDATA_OPEN))
        if end < 0:  # cut inside a CDATA section: close it
            return _utf8_whole(head) + _CDATA_CLOSE
        at = end + len(_CDATA_CLOSE)
    if len(content) <= allowed:
        return content
    amp = head.rfind(b"&", at)
    if amp >= 0 and head.find(b";", amp) < 0:  # do not leave half an entity
        head = head[:amp]
    return _utf8_whole(head)


def _cdata(text: bytes) -> bytes:
    """`text` as one CDATA section (a `]]>` inside is split across two)."""
    return _CDATA_OPEN + text.replace(_CDATA_CLOSE, b"]]]]><![CDATA[>") + _CDATA_CLOSE


def _utf8_whole(data: bytes) -> bytes:
    """`data` without a trailing incomplete UTF-8 sequence."""
    end = len(data)
    back = 0
    while back < 4 and end - back > 0 and data[end - back - 1] & 0xC0 == 0x80:
        back += 1
    lead = end - back - 1
    if lead >= 0 and data[lead] >= 0xC0:
        width = 2 if data[lead] < 0xE0 else 3 if data[lead] < 0xF0 else 4
        if back + 1 < width:
            return data[:lead]
    return data
