"""Decide whether a news item is about a US–China leader-level meeting or call.

An item is cut into sentences and each sentence into the phrases of news/topics.toml
(actors of each side, meeting events, topics, masks, cues). A sentence is *relevant* when
an event joins a US actor and a China actor: directly ("Trump, Xi meet", "Xi meets U.S.
envoy Sullivan") or by standing near officials of both sides with no third party nearer
("Biden calls Xi a 'dictator' after summit"). Everything here is pure and never raises.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Literal

from news.chinese import to_simplified
from news.rules import (
    BELOW,
    BREAK,
    CHINA,
    CHINA_ACTOR,
    CONTEXT,
    LEADER,
    MASK,
    NODE,
    STRONG,
    THIRD,
    US,
    US_ACTOR,
    Meaning,
    Rules,
    is_actor,
    is_place,
    load_rules,
    lower,
)

Label = Literal["relevant", "related", "irrelevant"]

MAX_CHARS = 20_000  # of a title or summary; the rest is not read
MAX_REASONS = 16
MAX_PHRASES = 100  # in one sentence: a longer run is cut, to bound the work per sentence

_TAG = re.compile(r"<[^<>]{0,2000}>")
# Between two actors of one group: "Trump, Xi", "Biden and Xi", "Trump-Xi", "王毅同沙利文".
_JOINED = re.compile(r"\s*(?:,|and|&|-|/|'s|'|和|与|同|及|、|向)?\s*(?:the\s+)?", re.IGNORECASE)
# Between a country and its role: "U.S. envoy", "China's top diplomat", "美国总统".
_ROLE_AFTER = re.compile(r"(?:'s?)?\s*(?:[A-Za-z][\w.-]*\s+)?")
_ROLE_OF = re.compile(r"\s+of\s+(?:the\s+)?", re.IGNORECASE)
_PAIRED = re.compile(r"\s*(?:,|and|&)\s*", re.IGNORECASE)
# Between an event and a place that is its object: "visits Vietnam", "trip to Japan".
_TO_PLACE = re.compile(r"\s*(?:(?:to|with)\s+(?:the\s+)?)?", re.IGNORECASE)
_WITH_PLACE = re.compile(r"\s*(?:with\s+(?:the\s+)?)?", re.IGNORECASE)
# Between a country and an actor below national level or outside the executive: "U.S.
# senators", "American tech CEOs", "美国加州州长" (not "Trump and CEOs").
_BELOW_AFTER = re.compile(
    r"(?:'s?)?\s*(?:(?!(?:and|or|with|to|by|for|from)\b)[A-Za-z][\w.-]*\s+)?|[\u3400-\u9fff]{0,4}",
    re.IGNORECASE,
)
# Where an English context clause ("ahead of the Trump-Xi summit") ends.
_CLAUSE_END = re.compile(r"[,;:|]|\s-\s")
# What may follow a Chinese context cue ("会晤前夕 ", "通话之后，"): a clause break or the end.
_CLAUSE_BREAK = re.compile(r"[\s,，、:：;；|]|$")
_CLAUSE_START = re.compile(r"[\s,，、:：;；|]")
_TOPIC_OF = re.compile(r"\s(?:on|about|over|of)\s", re.IGNORECASE)
_STOPS = frozenset({"boundary", "halt"})  # an event's object is not looked for across these
CONTEXT_GAP = 40  # max characters between a context cue and the meeting it names

# Quotes and dashes to ASCII (traditional Chinese goes through OpenCC: news/chinese.py).
_FOLD = str.maketrans(
    {
        **dict.fromkeys("‘’‛′`´", "'"),
        **dict.fromkeys("“”„‟″", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        "\u00a0": " ",
        "\u200b": "",
    }
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The engine's answer for one item: label, score in 0..1, topics and the evidence."""

    label: Label
    score: float
    topics: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def relevant(self) -> bool:
        """True for a US–China leader-level meeting, call or visit (the alert-worthy label)."""
        return self.label == "relevant"


def normalize(text: str) -> str:
    """Text for matching: no tags or entities, NFKC, plain quotes and dashes, simplified
    Chinese, single spaces."""
    text = text[:MAX_CHARS]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = to_simplified(unicodedata.normalize("NFKC", text).translate(_FOLD))
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text


class _Tok:
    """A phrase of one sentence, with its sides after roles and anaphors are resolved."""

    __slots__ = ("actor", "cn", "end", "m", "place", "start", "text", "third", "us")

    def __init__(self, start: int, end: int, text: str, m: Meaning) -> None:
        self.start = start
        self.end = end
        self.text = text
        self.m = m
        self.us = m.us
        self.cn = m.cn
        self.third = m.third
        self.actor = m.actor
        self.place = m.place

    def resided(self) -> None:
        """Recompute `actor` and `place` after the sides changed."""
        self.actor = is_actor(self.us, self.cn, self.third)
        self.place = is_place(self.us, self.cn, self.third)


@dataclass(slots=True)
class _Hit:
    """One event that joins the two sides."""

    direct: bool
    level: int
    strong: bool
    in_title: bool
    evidence: list[_Tok]


class _Facts:
    """What one item's sentences add up to."""

    __slots__ = (
        "context",
        "cues",
        "flags",
        "hits",
        "negations",
        "nodes",
        "strong",
        "subject",
        "third",
        "topics",
    )

    def __init__(self) -> None:
        self.hits: list[_Hit] = []
        self.third: list[str] = []
        self.negations: list[str] = []
        self.topics: dict[str, str] = {}
        self.cues: set[str] = set()
        self.context: list[str] = []  # cues of meetings named only as context
        self.nodes: list[_Tok] = []  # every structural phrase, for the reasons of a non-hit
        self.flags = 0  # news.rules flag bits over the whole item
        self.strong = False  # an official of either side, after roles are resolved
        self.subject = False  # a taxonomy topic named by a phrase (not only by an event)


class Classifier:
    """The relevance engine over one set of compiled rules."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._join = rules.settings.join_gap
        self._object = rules.settings.object_gap
        self._window = rules.settings.link_window
        self._topics = dict(rules.topics)

    @property
    def topics(self) -> dict[str, str]:
        """The taxonomy: topic name → one-line description, in file order."""
        return dict(self._topics)

    @property
    def rules(self) -> Rules:
        """The compiled rules this classifier uses."""
        return self._rules

    def classify(self, title: str, summary: str = "") -> Verdict:
        """Label one item from its title and plain-text summary."""
        title = normalize(title if isinstance(title, str) else "")
        summary = normalize(summary if isinstance(summary, str) else "")
        facts = _Facts()
        title_sentences = self._sentences(title, facts, True)
        flags = facts.flags
        pair_context = bool(flags & US_ACTOR and flags & CHINA_ACTOR)
        if (flags & US and flags & CHINA) or flags & THIRD:
            for raw in title_sentences:
                self._sentence(title, raw, True, pair_context, facts)
        # Once the title has a direct hit, the summary only adds topics and reasons.
        settled = any(hit.direct and hit.strong for hit in facts.hits)
        # A title whose meeting is only the time of another story: the summary cannot undo it.
        settled = settled or bool(facts.context and not facts.hits)
        summary_sentences = self._sentences(summary, facts, not settled)
        if summary_sentences and facts.flags & US and facts.flags & CHINA:
            for raw in summary_sentences:
                self._sentence(summary, raw, False, pair_context, facts)
        return _verdict(facts)

    def _sentences(self, text: str, facts: _Facts, structure: bool) -> list[list[_Tok]]:
        """The sentences of `text` that hold an event, as their structural phrases.

        Topics (of events too), cues, masks and the item's sides go straight into `facts`.
        Without `structure`, only those: no sentences come back.
        """
        if not text:
            return []
        sentences: list[list[_Tok]] = []
        current: list[_Tok] = []
        events: list[tuple[str, Meaning]] = []
        topics = facts.topics
        flags = sentence_flags = 0
        nodes = facts.nodes
        matcher = self._rules.matcher
        terms, cased, groups, meaning = (
            matcher.terms,
            matcher.cased,
            matcher.groups,
            matcher.meaning,
        )
        caseless = text.isupper() or text.islower()
        ascii_text = text.isascii()
        low = " " + text.lower() if ascii_text else lower(text)
        regex = matcher.ascii_regex if ascii_text else matcher.regex
        # The same scan as Matcher.tokens, inlined: this loop is most of the engine's time.
        for match in regex.finditer(low):
            start, end = match.span()
            group = match.lastgroup
            if ascii_text:
                if group == "w":
                    key = low[start + 1 : end]
                    end -= 1
                    group = None
                else:
                    key = match.group()
                    start, end = max(start - 1, 0), end - 1
            else:
                key = match.group()
            if group is None:
                found = terms.get(key)
                if found is None:
                    forms = cased.get(key)  # a cased term: check it as written
                    if forms is None:
                        found = meaning(key, text[start:end], caseless)
                    elif caseless:
                        found = next(iter(forms.values()))
                    else:
                        found = forms.get(text[start:end])
                    if found is None:
                        continue
                m = found
            else:
                m = groups[group]
            kind = m.kind
            if kind == NODE:
                s = text[start:end]
                if m.topics or m.cues:
                    _note(facts, m, s)
                sentence_flags |= m.flags
                if m.event:
                    events.append((s, m))
                if structure:
                    tok = _Tok(start, end, s, m)
                    current.append(tok)
                    if not m.anaphor:
                        nodes.append(tok)
                    if len(current) >= MAX_PHRASES:  # no real sentence is this long: cut it
                        if events:
                            _event_topics(events, sentence_flags, topics)
                            sentences.append(current)
                        current, events = [], []
            elif kind == BREAK:
                if events:
                    _event_topics(events, sentence_flags, topics)
                    if structure:
                        sentences.append(current)
                flags |= sentence_flags
                current, events, sentence_flags = [], [], 0
            elif kind == MASK:
                if not m.quiet:
                    facts.negations.append(f"negation:{m.mask}:{text[start:end]}")
            else:
                _note(facts, m, text[start:end])
        if events:
            _event_topics(events, sentence_flags, topics)
            if structure:
                sentences.append(current)
        facts.flags |= flags | sentence_flags
        return sentences

    def _sentence(
        self, text: str, raw: list[_Tok], in_title: bool, pair_context: bool, facts: _Facts
    ) -> None:
        """Add the hits of one sentence (which holds an event) to `facts`."""
        toks: list[_Tok] = []
        events: list[int] = []
        roles = False
        marks = 0
        for tok in raw:
            m = tok.m
            if m.anaphor and not pair_context:
                continue
            if m.event:
                events.append(len(toks))
            if m.role:
                roles = True
            marks |= m.flags
            toks.append(tok)
        cues = facts.cues
        below = marks & BELOW
        if roles or below or "former" in cues:
            if roles:
                _resolve_roles(text, toks)
            if "former" in cues:
                _demote_former(text, toks)
            if below:
                _demote_below(text, toks)
            for tok in toks:
                tok.resided()
                if tok.us >= 3 or tok.cn >= 3:
                    facts.strong = True
        if marks & CONTEXT:
            kept = _drop_context(text, toks, facts)
            if len(kept) < len(toks):
                toks = kept
                events = [k for k, tok in enumerate(toks) if tok.m.event]
        halted = self._halted(toks) if "halt" in facts.cues else {}
        pending: list[int] = []
        hits_before = len(facts.hits)
        weak_hits: list[_Hit] = []
        third_meeting = False  # a real meeting of a third party with one side
        for i in events:
            event = toks[i]
            if i in halted:
                facts.negations.append(f"negation:halt:{halted[i]}")
                continue
            near = self._participants(text, toks, i)
            us = cn = 0
            third: list[_Tok] = []
            for tok in near:
                if tok.us > us:
                    us = tok.us
                if tok.cn > cn:
                    cn = tok.cn
                if tok.third >= 2:
                    third.append(tok)
            strong_pair = us >= 3 and cn >= 3
            if us >= 2 and cn >= 2 and (strong_pair or not third):
                if event.m.weak and not strong_pair:
                    continue
                if event.m.needs_person and max(us, cn) < 3:
                    continue
                near.append(event)
                direct = _Hit(True, min(us, cn), max(us, cn) >= 3, in_title, near)
                facts.hits.append(direct)
                if event.m.weak:
                    weak_hits.append(direct)
            elif third:
                facts.third.extend(tok.text for tok in third)
                third_meeting = third_meeting or not event.m.weak
            elif not event.m.weak or max(us, cn) >= 3:
                pending.append(i)
        if halted or facts.negations:
            # "says he does not want to speak to Xi", "speaks warmly of Xi at a dinner": a
            # halted event or another sense of a word; a weak one nearby tells of no contact.
            pending = [i for i in pending if not toks[i].m.weak]
        if third_meeting:
            # "Zelensky meets Trump, asks him to press Xi": the verbs after a third party's
            # meeting tell of that meeting, not of a US–China contact.
            for weak_hit in weak_hits:
                facts.hits.remove(weak_hit)
            pending = []  # nor does an event that names neither side's partner
        for i in pending:
            hit = self._nearby(text, toks, i, in_title, facts)
            if hit is not None:
                facts.hits.append(hit)
                break
        if len(facts.hits) > hits_before:
            for i in events:  # the sentence joins the sides: its weak events say how
                m = toks[i].m
                if m.weak and m.event_topic:
                    facts.topics.setdefault(m.event_topic, toks[i].text)

    def _halted(self, toks: list[_Tok]) -> dict[int, str]:
        """Events undone by a halt cue just before them ("suspends talks with the US")."""
        halted: dict[int, str] = {}
        for h, cue in enumerate(toks):
            if "halt" not in cue.m.cues:
                continue
            for j in range(h + 1, len(toks)):
                tok = toks[j]
                # "won't talk to Xi"; Chinese puts the other side first: "不愿与习近平通话".
                if tok.start - cue.end > self._object or (tok.actor and cue.text.isascii()):
                    break
                if tok.m.event:
                    halted[j] = cue.text
                    break
        return halted

    def _participants(self, text: str, toks: list[_Tok], i: int) -> list[_Tok]:
        """The actors tied to event `i`: its subject chain before it and object chain after."""
        event = toks[i]
        near: list[_Tok] = [event] if event.actor else []
        start, end = event.start, event.end
        for j in range(i - 1, -1, -1):
            tok = toks[j]
            if start - tok.end > self._join or tok.m.event or "boundary" in tok.m.cues:
                break
            if tok.actor and _TOPIC_OF.search(text, tok.end, start):
                break  # "briefs Xi on talks with …": Xi is told of the talks, not in them
            if tok.actor:
                near.extend(_chain(text, toks, j, -1))
                break
        cjk = not event.text.isascii()
        if cjk and event.m.content_after:  # "普京向习近平通报同美方会谈情况"
            return near
        for j in range(i + 1, len(toks)):
            tok = toks[j]
            if tok.start - end > self._object or tok.m.event or tok.m.cues & _STOPS:
                break
            if cjk and _CLAUSE_START.search(text, end, tok.start):
                break  # "普京同习近平通电话 介绍同美国特使会谈情况": a new clause
            if tok.actor:
                near.extend(_chain(text, toks, j, 1))
                break
            if tok.place:
                fits = _TO_PLACE if event.m.destination else _WITH_PLACE
                if fits.fullmatch(text, end, tok.start):
                    near.append(tok)
                    break
        return near

    def _nearby(
        self, text: str, toks: list[_Tok], i: int, in_title: bool, facts: _Facts
    ) -> _Hit | None:
        """A hit for an event not tied to both sides, from the officials around it.

        Officials of both sides are enough; else the two countries named together, or (in a
        title) an official and the other country. A weak event ("told") needs officials.
        """
        event = toks[i]
        start, end, limit = event.start, event.end, self._window
        nearest = us_best = cn_best = event
        nearest_distance = limit + 1
        actors: list[_Tok] = []
        us = cn = 0
        third = False
        for tok in toks:
            if not tok.actor or tok is event:
                continue
            distance = tok.start - end if tok.start >= end else start - tok.end
            if distance > limit:
                continue
            actors.append(tok)
            if distance < nearest_distance:
                nearest, nearest_distance = tok, distance
            if tok.us > us:
                us, us_best = tok.us, tok
            if tok.cn > cn:
                cn, cn_best = tok.cn, tok
            if tok.third >= 3:
                third = True
        if nearest is event:
            return None
        if nearest.third >= 3 and nearest.us < 2 and nearest.cn < 2:
            facts.third.append(nearest.text)
            return None
        if not (us >= 3 and cn >= 3):  # else both sides have officials here: a hit
            if third or us < 2 or cn < 2 or event.m.weak:
                return None
            paired = _has_pair(text, actors)
            if max(us, cn) < 3 and (event.m.needs_person or not paired):
                return None
            if not paired and not in_title:
                return None  # an official and a country in passing, in the summary
        return _Hit(False, min(us, cn), max(us, cn) >= 3, in_title, [us_best, cn_best, event])


def _note(facts: _Facts, m: Meaning, s: str) -> None:
    """Record the topics and cues of phrase `s`."""
    if m.topics:
        facts.subject = True
        for topic in m.topics:
            if topic not in facts.topics:
                facts.topics[topic] = s
    if m.cues:
        facts.cues.update(m.cues)


def _event_topics(events: list[tuple[str, Meaning]], flags: int, topics: dict[str, str]) -> None:
    """The topics that a sentence's events set (summit only with a leader, if so marked).

    A weak event ("spoke", "told") sets its topic only when it joins the two sides.
    """
    for text, m in events:
        topic = m.event_topic
        if topic and not m.weak and topic not in topics and (flags & LEADER or not m.needs_leader):
            topics[topic] = text


def _resolve_roles(text: str, live: list[_Tok]) -> None:
    """Give each role ("envoy", "president") the side of the country word it belongs to."""
    for i, tok in enumerate(live):
        rank = tok.m.role
        if not rank or tok.us or tok.cn or tok.third:
            continue
        owner = None
        if (
            i > 0
            and _sided(live[i - 1])
            and _ROLE_AFTER.fullmatch(text, live[i - 1].end, tok.start)
        ):
            owner = live[i - 1]
            if (
                i > 1
                and _sided(live[i - 2])
                and _PAIRED.fullmatch(text, live[i - 2].end, owner.start)
            ):
                _take_side(tok, live[i - 2], rank)
        elif (
            i + 1 < len(live)
            and _sided(live[i + 1])
            and _ROLE_OF.fullmatch(text, tok.end, live[i + 1].start)
        ):
            owner = live[i + 1]
        if owner is not None:
            _take_side(tok, owner, rank)


def _demote_former(text: str, live: list[_Tok]) -> None:
    """Actors right after "former" hold no office now: they only count as mentions."""
    for i, tok in enumerate(live):
        if "former" not in tok.m.cues:
            continue
        edge = tok
        for nxt in live[i + 1 :]:
            if not (nxt.us or nxt.cn or nxt.third) or not _ROLE_AFTER.fullmatch(
                text, edge.end, nxt.start
            ):
                break
            nxt.us, nxt.cn, nxt.third = min(nxt.us, 1), min(nxt.cn, 1), min(nxt.third, 1)
            edge = nxt


def _demote_below(text: str, live: list[_Tok]) -> None:
    """Actors below national level or outside the executive ("U.S. senators", "California
    governor", "American CEOs", "美国国会参议员代表团") are only mentions of their side: so
    is the country word before them and a role just after them ("delegation")."""
    for i, tok in enumerate(live):
        if "below" not in tok.m.cues:
            continue
        _mention_only(tok)
        edge = tok
        for prev in reversed(live[:i]):
            if not _sided(prev) or not _BELOW_AFTER.fullmatch(text, prev.end, edge.start):
                break
            _mention_only(prev)
            edge = prev
        edge = tok
        for nxt in live[i + 1 :]:
            if not nxt.m.role or nxt.m.event or text[edge.end : nxt.start].strip():
                break
            _mention_only(nxt)
            edge = nxt


def _mention_only(tok: _Tok) -> None:
    tok.us, tok.cn, tok.third = min(tok.us, 1), min(tok.cn, 1), min(tok.third, 1)


def _drop_context(text: str, live: list[_Tok], facts: _Facts) -> list[_Tok]:
    """`live` without the meetings that only date another story.

    "Stocks climb ahead of Trump-Xi talks", "U.S. adds firms to entity list days after the
    summit", "中美元首会晤前夕 人民币走高": the clause of a context cue names a meeting,
    and the rest of the sentence does not name both sides. When it does ("U.S., China agree
    truce after Trump-Xi dinner", "Trump says deal close ahead of Xi meeting") the meeting
    may be the news, and everything stays.
    """
    spans = _context_spans(text, live)
    if not spans:
        return live
    outside = [tok for tok in live if not any(a <= tok.start < b for a, b, _, _ in spans)]
    us = max((tok.us for tok in outside), default=0)
    cn = max((tok.cn for tok in outside), default=0)
    if us >= 2 and cn >= 2:
        return live
    if max(us, cn) >= 2 and "outcome" in facts.cues:
        return live  # "U.S. cuts fentanyl tariffs after Trump-Xi talks": the talks' result
    for start, end, _, bare in spans:
        if bare and max(us, cn) >= 3:  # "Trump says … after meeting with Xi": his meeting
            inside = [tok for tok in live if start <= tok.start < end]
            if (us >= 3 and any(t.cn >= 2 for t in inside)) or (
                cn >= 3 and any(t.us >= 2 for t in inside)
            ):
                return live
    facts.context.extend(cue for _, _, cue, _ in spans)
    return outside


def _context_spans(text: str, live: list[_Tok]) -> list[tuple[int, int, str, bool]]:
    """(start, end, cue, bare) of each clause that names a meeting as a time reference.

    `bare`: the meeting follows the cue at once, without its own subject ("after meeting
    with Xi"), so it may be the main clause's own.
    """
    spans: list[tuple[int, int, str, bool]] = []
    for k, tok in enumerate(live):
        cues = tok.m.cues
        if "context" in cues:  # English: the cue comes first, the meeting soon after it
            found = _CLAUSE_END.search(text, tok.end)
            end = found.start() if found else len(text)
            for nxt in live[k + 1 :]:
                if nxt.start >= end or nxt.start - tok.end > CONTEXT_GAP:
                    break
                if nxt.m.event:
                    bare = not text[tok.end : nxt.start].strip()
                    spans.append((tok.start, end, tok.text, bare))
                    break
                if not (nxt.us or nxt.cn or nxt.third or nxt.m.role or nxt.m.anaphor):
                    break
        elif "context_after" in cues and k > 0:  # Chinese: "…会晤前夕", "在…通话后"
            event = live[k - 1]
            if not event.m.event or tok.start - event.end > 1:
                continue
            clause = 0
            for found in _CLAUSE_START.finditer(text, 0, event.start):
                clause = found.end()
            frame = text.rfind("在", clause, event.start)
            if frame >= 0 and text[frame + 1 : frame + 2] not in ("与", "同", "和"):
                spans.append((frame, tok.end, tok.text, False))
            elif _CLAUSE_BREAK.match(text, tok.end):
                spans.append((clause, tok.end, tok.text, False))
    return spans


def _sided(tok: _Tok) -> bool:
    return bool(tok.us or tok.cn or tok.third) and not tok.m.event


def _take_side(tok: _Tok, owner: _Tok, rank: int) -> None:
    if owner.us:
        tok.us = rank
    if owner.cn:
        tok.cn = rank
    if owner.third:
        tok.third = rank


def _chain(text: str, live: list[_Tok], j: int, step: int) -> list[_Tok]:
    """Actor `j` and the actors joined to it ("Trump, Xi"; "Bessent and He Lifeng").

    A country word glued to an actor ("Chinese" in "Chinese Vice Premier") is stepped over.
    """
    chain = [live[j]]
    edge = live[j]
    k = j + step
    while 0 <= k < len(live):
        tok = live[k]
        a, b = (tok.end, edge.start) if step < 0 else (edge.end, tok.start)
        if not tok.actor and _sided(tok) and _ROLE_AFTER.fullmatch(text, a, b):
            edge = tok
        elif tok.actor and _JOINED.fullmatch(text, a, b):
            chain.append(tok)
            edge = tok
        else:
            break
        k += step
    return chain


def _has_pair(text: str, actors: list[_Tok]) -> bool:
    """Whether the two sides are named together: "US and China", "中美", "Sino-US"."""
    ordered = sorted(actors, key=lambda tok: tok.start)
    for a, b in pairwise(ordered):
        if a.us >= 2 and a.cn >= 2:
            return True
        if ((a.us >= 2 and b.cn >= 2) or (a.cn >= 2 and b.us >= 2)) and _JOINED.fullmatch(
            text, a.end, b.start
        ):
            return True
    return bool(ordered) and ordered[-1].us >= 2 and ordered[-1].cn >= 2


def _verdict(facts: _Facts) -> Verdict:
    """Turn the evidence into a label, a score, topics and reasons."""
    topics = tuple(sorted(facts.topics))
    reasons: dict[str, None] = {}
    hits = facts.hits
    if hits and "offtopic" in facts.cues and not any(hit.strong for hit in hits):
        hits = []
    if hits:
        best = hits[0]
        direct = title = False
        for hit in hits:
            direct = direct or hit.direct
            title = title or hit.in_title
            if (hit.direct, hit.level, hit.in_title) > (best.direct, best.level, best.in_title):
                best = hit
        evidence = sorted(best.evidence, key=_start)
        for tok in evidence:
            if tok.us >= 2 and tok.cn < 2 and not tok.m.event:
                reasons[f"us:{tok.text}"] = None
        for tok in evidence:
            if tok.cn >= 2 and not tok.m.event:
                reasons[f"{'pair' if tok.us >= 2 else 'china'}:{tok.text}"] = None
        for tok in evidence:
            if tok.m.event:
                reasons[f"event:{tok.text}"] = None
        reasons["link:direct" if best.direct else "link:sentence"] = None
        score = 0.7 + 0.1 * direct + 0.05 * title + 0.05 * (len(hits) > 1)
        score += 0.1 if best.level == 4 else 0.05 if best.level == 3 else 0.0
        label: Label = "relevant"
    else:
        us = max(facts.nodes, key=_us_rank, default=None)
        cn = max(facts.nodes, key=_cn_rank, default=None)
        if us is not None and us.us:
            reasons[f"us:{us.text}"] = None
        if cn is not None and cn.cn:
            reasons[f"china:{cn.text}"] = None
        label = _related_or_not(facts)
        flags = facts.flags
        if label == "related":
            score = 0.4 + 0.05 * min(len(topics), 2) + 0.05 * bool(flags & STRONG or facts.strong)
            score += 0.05 * ("relations" in facts.cues)
        else:
            score = 0.1 * bool(flags & US) + 0.1 * bool(flags & CHINA) + 0.05 * bool(topics)
    for name in topics:
        reasons[f"topic:{name}:{facts.topics[name]}"] = None
    if not hits:
        for name in facts.third:
            reasons[f"negation:third-party:{name}"] = None
    for cue in facts.context:
        reasons[f"context:{cue}"] = None
    for negation in facts.negations:
        reasons[negation] = None
    return Verdict(label, round(min(score, 1.0), 4), topics, tuple(reasons)[:MAX_REASONS])


def _start(tok: _Tok) -> int:
    return tok.start


def _us_rank(tok: _Tok) -> int:
    return tok.us


def _cn_rank(tok: _Tok) -> int:
    return tok.cn


def _related_or_not(facts: _Facts) -> Label:
    """Without a meeting: US–China relations news, or not about the two at all."""
    if facts.third:
        return "irrelevant"
    relations = "relations" in facts.cues
    if "offtopic" in facts.cues and not relations:
        return "irrelevant"
    flags = facts.flags
    strong = facts.strong or flags & STRONG
    if flags & US and flags & CHINA and (facts.subject or strong or relations):
        return "related"
    if flags & CHINA and not flags & (US | THIRD) and "policy" in facts.cues:
        return "related"
    return "irrelevant"


@cache
def default_classifier() -> Classifier:
    """The engine with the rules in news/topics.toml, built once per process."""
    return Classifier(load_rules())


_NAIVE_US = re.compile(
    r"\b(?:U\.S\.?A?|US|USA|United States|America|American|Washington)\b|美国|中美|美中"
)
_NAIVE_CHINA = re.compile(r"\b(?:China|Chinese|Beijing)\b|中国|中美|美中", re.IGNORECASE)
_NAIVE_EVENT = re.compile(
    r"\b(?:summits?|calls?|called|meet|meets|meeting|met|talks?|talked)\b|峰会|通话|通电话|会晤|会见|会谈",
    re.IGNORECASE,
)


def naive_classify(title: str, summary: str = "") -> bool:
    """The baseline: mentions the US and China and one of summit/call/meet/talks."""
    text = f"{title}\n{summary}"
    return bool(_NAIVE_US.search(text) and _NAIVE_CHINA.search(text) and _NAIVE_EVENT.search(text))
