"""Schemathesis hooks for obsplane's OpenAPI document (TestSchemathesis).

They state what a JSON Schema cannot: constraints between parameters
(since before until, the window no wider than the maximum, times within the
store's range) and values whose validity is a grammar (a cursor must be
one the server issued, q and PPL are languages). Generated requests that
the document marks valid but that break one of these are mapped to valid
ones; values the document itself forbids are left alone, so the server's
refusals are still tested.
"""
import base64
import datetime as dt
import json
import re
import time

import schemathesis

TIME = re.compile(
    r'^((190[1-9]|19[1-9][0-9]|2[01][0-9]{2}|22[0-5][0-9]|226[01])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])'
    r'|[0-9]{1,9}|1[0-9]{9}|1[0-9]{12}|([1-9][0-9]{0,3})d|([1-9][0-9]{0,5})(ns|us|ms|s|m|h))$')
CURSOR = re.compile(r'^[A-Za-z0-9_-]+$')
UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}
MIN = int(dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * 10**9
MAX = 2**63 - 1  # DateTime64(9)'s last nanosecond, 2262-04-11
MAX_RANGE = 30 * UNITS["d"]


def parse_time(v, now):
    """The server's reading of a since/until value in Unix nanoseconds, or
    None if it does not read it (durations are exact to the nanosecond:
    the server compares them so)."""
    try:
        if "T" in v:
            base, frac = v, ""
            m = re.match(r'^(.*:\d\d)(\.\d+)?(Z|[+-].*)$', v)
            base, frac, zone = m.group(1), (m.group(2) or "")[1:], m.group(3)
            t = dt.datetime.fromisoformat(base + zone.replace("Z", "+00:00"))
            return int(t.timestamp()) * 10**9 + int((frac + "000000000")[:9])
        if v.isdigit():
            n = int(v)
            return n * 10**6 if n > 10**11 else n * 10**9
        m = re.match(r'^([0-9]+)(\.[0-9]+)?(ns|us|ms|s|m|h|d)$', v)
        whole, frac, unit = int(m.group(1)), m.group(2) or "", m.group(3)
        d = whole * UNITS[unit] + (int(frac[1:]) * UNITS[unit] // 10 ** len(frac[1:]) if frac else 0)
        return now - d
    except (ValueError, OverflowError, OSError, AttributeError):
        return None


def window_ok(query):
    now = time.time_ns()
    since, until = query.get("since", ""), query.get("until", "")
    for v in (since, until):
        if not isinstance(v, str) or v and not TIME.match(v):
            return True  # the document forbids it: a refusal is what is tested
    u = parse_time(until, now) if until else now
    if u is None:
        return False
    s = parse_time(since, now) if since else u - UNITS["h"]
    if s is None:
        return False
    return MIN <= s <= MAX and MIN <= u <= MAX and s <= u and u - s <= MAX_RANGE


def cursor_ok(c):
    if not isinstance(c, str) or not CURSOR.match(c):
        return True
    try:
        doc = json.loads(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))
        return isinstance(doc, dict) and isinstance(doc.get("t"), str) and isinstance(doc.get("k"), int)
    except Exception:
        return False


WORD = re.compile(r'[A-Za-z0-9]+')
OPERATORS = {"AND", "OR", "NOT", "TO"}


@schemathesis.hook
def map_query(ctx, query):
    if not query:
        return query
    if not window_ok(query):
        query.pop("since", None)
        query.pop("until", None)
    if "cursor" in query and not cursor_ok(query["cursor"]):
        del query["cursor"]
    if isinstance(query.get("q"), str):
        # Search syntax is a grammar: keep the plain words of a generated q.
        words = [w for w in WORD.findall(query["q"]) if w.upper() not in OPERATORS][:8]
        query["q"] = " ".join(words)
    return query


@schemathesis.hook
def map_body(ctx, body):
    if ctx.operation is not None and ctx.operation.path == "/api/v1/ppl" and isinstance(body, dict):
        q = body.get("query")
        if isinstance(q, str) and 0 < len(q) <= 65536 and not q.startswith("source="):
            # PPL is a grammar: a generated string is a query only by chance.
            body["query"] = "source=logs | where " + " or ".join("service = '%s'" % w for w in WORD.findall(q)[:4] or ["x"]) + " | head 10"
    return body
