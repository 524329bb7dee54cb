"""Bounded-time fuzzing of the feed path: mutated feed bytes → parse → classify → alert blocks.

Run: `./dev fuzz [SECONDS]` (default 60). Seeds are the project's own test feeds and, where
present, ../shared/data/feeds. A finding is any exception, an entry that is not clean and
capped (tests.faults.unclean_entry: control characters, surrogates, over-long text, a
non-http link, an absurd date), or an alert over Slack's limits or carrying live markup
(tests.faults.live_markup). The run prints what it tried and exits non-zero on a finding.
"""

from __future__ import annotations

import gzip
import random
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.blocks import alert_message  # noqa: E402
from models.item import ItemView  # noqa: E402
from news.parse import parse_feed  # noqa: E402
from news.relevance import default_classifier  # noqa: E402
from tests.faults import live_markup, mrkdwn_texts, unclean_entry  # noqa: E402

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SHARED = ROOT.parent / "shared" / "data" / "feeds"
TOKENS = [
    b"<!channel>",
    b"<@U123>",
    b"<https://evil.example|https://good.example>",
    b"&amp;",
    b"&lt;",
    b"&#0;",
    b"&#xD800;",
    b"<![CDATA[",
    b"]]>",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\x1f\x8b",
    b"<item>",
    b"</item>",
    b"<entry>",
    b"<title>",
    b"</title>",
    b"<link>javascript:alert(1)</link>",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
    b"&a;",
    b'<?xml version="1.0" encoding="utf-16"?>',
    b"<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>",
    b"<pubDate>9999</pubDate>",
    "习近平 特朗普 通话".encode(),
    b"Trump Xi summit call",
    b"\r\n",
    b" " * 100,
    b"&#55296;",
    b"&#xDFFF",
    b"&#x110000;",
    b"&#99999999999;",
    b'encoding="\xc6\xff"',
    b"</item>" * 50,
    b"<b>" * 200,
    b"<link>https://x.example/\x00</link>",
    b"&#x85;",
    b'<!DOCTYPE rss [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]>',
    b"&e;",
    b"\xed\xa0\x80",
    b"<link>https://x.example/a|<!here></link>",
    b"<guid>https://x.example/g</guid>",
]


def seeds() -> list[bytes]:
    """The feed documents mutations start from."""
    paths = sorted((ROOT / "tests" / "data" / "feeds").glob("*"))
    if SHARED.is_dir():
        paths += sorted(p for p in SHARED.iterdir() if p.suffix != ".md")
    out = []
    for path in paths:
        data = path.read_bytes()
        out.append(gzip.decompress(data) if path.suffix == ".gz" else data)
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random byte-level edits: flips, splices, token inserts, truncation."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and buf:
            end = min(len(buf), pos + rng.randint(1, 200))
            del buf[pos:end]
        elif op == 3:
            del buf[pos:]
        elif op == 4 and buf:
            start = rng.randrange(len(buf))
            chunk = buf[start : start + rng.randint(1, 500)]
            buf[pos:pos] = chunk * rng.randint(1, 5)
        else:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(buf)


@dataclass
class FuzzReport:
    """What a fuzz run tried and found."""

    inputs: int = 0
    entries: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)


def check_alert(view: ItemView) -> str | None:
    """A finding when the alert message breaks Slack's limits or carries live markup."""
    message = alert_message(view)
    if not message.text or len(message.blocks) > 50:
        return "alert without text or with over 50 blocks"
    for block in message.blocks:
        text = block.get("text", {}).get("text", "")
        if len(text) > 3000:
            return "section text over 3000 characters"
    for text in mrkdwn_texts(message.text, message.blocks):
        if spans := live_markup(text):
            return f"live Slack markup in an alert: {spans[:3]}"
    return None


def run(seconds: float, seed: int = 1) -> FuzzReport:
    """Fuzz for `seconds`; returns the report."""
    rng = random.Random(seed)
    corpus = seeds()
    classifier = default_classifier()
    report = FuzzReport()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = mutate(rng.choice(corpus), rng)
        report.inputs += 1
        try:
            headers = {"content-type": "application/xml"}
            parsed = parse_feed(data, headers, "https://f.example/", NOW)
            crashed = any(p.startswith("parser_crash") for p in parsed.problems)
            report.outcomes["crashed" if crashed else "failed" if parsed.failed else "parsed"] += 1
            for entry in parsed.entries:
                problems = unclean_entry(
                    entry.title, entry.summary, entry.url, entry.published, NOW
                )
                if problems:
                    report.findings.append(f"unclean entry {problems}: {data[:200]!r}")
            for entry in parsed.entries[:20]:
                verdict = classifier.classify(entry.title, entry.summary)
                view = ItemView(
                    0,
                    entry.title,
                    entry.url,
                    "fuzz",
                    entry.summary,
                    entry.published,
                    verdict.label,
                    verdict.score,
                    verdict.topics,
                    verdict.reasons,
                )
                report.entries += 1
                if (problem := check_alert(view)) is not None:
                    report.findings.append(f"{problem}: {data[:200]!r}")
        except Exception:
            report.findings.append(traceback.format_exc(limit=3) + repr(data[:200]))
    return report


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    report = run(seconds)
    print(
        f"fuzzed {report.inputs} mutated feeds in {seconds:.0f}s: "
        f"{report.outcomes['parsed']} parsed, {report.outcomes['failed']} rejected as broken, "
        f"{report.outcomes['crashed']} crashed feedparser (caught: that feed fails), "
        f"{report.entries} entries classified and rendered; {len(report.findings)} findings"
    )
    for finding in report.findings[:10]:
        print("FINDING:", finding)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
