#!/usr/bin/env python3
"""Strict reader of the Prometheus text exposition format (0.0.4), for the tests.

    prom_query.py FILE                 validate; print "ok: N families, M samples"
    prom_query.py FILE 'EXPR' ...      validate, then print one line per EXPR: the sum of
                                       the samples matching it, or "absent" when none does

EXPR is a sample name with optional label matchers, all of which must match:
    pullthrough_requests_total{cache="HIT"}
Validation (exit 1 with a message naming the line): HELP/TYPE syntax, TYPE before the
family's samples and at most once, a family's samples contiguous, metric and label name
syntax, label value escapes (only \\\\, \\" and \\n), numeric values, counters >= 0,
histograms with ascending le buckets ending in +Inf, cumulative counts, and _count equal
to the +Inf bucket, with _sum present.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Invalid(Exception):
    pass


def parse_labels(text, where):
    """text: what is between { and }. Returns a dict; raises Invalid."""
    labels, i = {}, 0
    while i < len(text):
        m = re.compile(LABEL + r'="').match(text, i)
        if not m:
            raise Invalid(f"{where}: bad label at {text[i:]!r}")
        name = m.group(0)[:-2]
        i = m.end()
        value = []
        while True:
            if i >= len(text):
                raise Invalid(f"{where}: unterminated value of label {name}")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise Invalid(f"{where}: bad escape \\{nxt} in label {name}")
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise Invalid(f"{where}: raw newline in label {name}")
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise Invalid(f"{where}: label {name} twice")
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise Invalid(f"{where}: expected ',' after label {name}")
            i += 1
    return labels


def parse_value(text, where):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
        raise Invalid(f"{where}: bad value {text!r}")
    return float(text)


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return None


def parse(text):
    """Returns (types, samples): samples is a list of (name, labels, value)."""
    if text and not text.endswith("\n"):
        raise Invalid("the last line has no newline")
    types, helps, samples, seen_families, current = {}, set(), [], set(), None
    sample_re = re.compile(rf"({NAME})(?:\{{(.*)\}})? (\S+)(?: (-?[0-9]+))?")
    for number, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {number}"
        if line.startswith("#"):
            m = re.fullmatch(rf"# (HELP|TYPE) ({NAME}) (.*)", line)
            if not m:
                if re.match(r"# (HELP|TYPE)", line):
                    raise Invalid(f"{where}: bad {line.split()[1]} line: {line!r}")
                continue  # a plain comment
            kind, name, rest = m.groups()
            if kind == "HELP":
                if name in helps:
                    raise Invalid(f"{where}: second HELP for {name}")
                if re.search(r"\\[^\\n]", rest.replace("\\\\", "")):
                    raise Invalid(f"{where}: bad escape in HELP of {name}")
                helps.add(name)
            else:
                if rest not in TYPES:
                    raise Invalid(f"{where}: unknown type {rest!r}")
                if name in types:
                    raise Invalid(f"{where}: second TYPE for {name}")
                if name in seen_families:
                    raise Invalid(f"{where}: TYPE of {name} after its samples")
                types[name] = rest
            continue
        if not line.strip():
            continue
        m = sample_re.fullmatch(line)
        if not m:
            raise Invalid(f"{where}: not a sample: {line!r}")
        name, label_text, value_text, _ = m.groups()
        labels = parse_labels(label_text or "", where)
        value = parse_value(value_text, where)
        family = family_of(name, types) or name
        if family != current:
            if family in seen_families:
                raise Invalid(f"{where}: samples of {family} are not contiguous")
            seen_families.add(family)
            current = family
        if types.get(family) == "counter" and not value >= 0:
            raise Invalid(f"{where}: counter {name} is {value_text}")
        samples.append((name, labels, value))
    check_histograms(types, samples)
    return types, samples


def check_histograms(types, samples):
    for family, kind in types.items():
        if kind != "histogram":
            continue
        groups = {}
        for name, labels, value in samples:
            if family_of(name, types) != family:
                continue
            if name == family:
                raise Invalid(f"histogram {family} has a bare sample")
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            g = groups.setdefault(key, {"buckets": [], "sum": None, "count": None})
            if name.endswith("_bucket"):
                if "le" not in labels:
                    raise Invalid(f"{family}_bucket without le")
                g["buckets"].append((parse_value(labels["le"], f"{family} le"), value))
            elif name.endswith("_sum"):
                g["sum"] = value
            else:
                g["count"] = value
        for key, g in groups.items():
            bounds = [b for b, _ in g["buckets"]]
            if not bounds or bounds[-1] != math.inf:
                raise Invalid(f"histogram {family}{dict(key)}: no +Inf bucket")
            if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
                raise Invalid(f"histogram {family}{dict(key)}: le not strictly ascending")
            counts = [c for _, c in g["buckets"]]
            if counts != sorted(counts):
                raise Invalid(f"histogram {family}{dict(key)}: bucket counts not cumulative")
            if g["sum"] is None or g["count"] is None:
                raise Invalid(f"histogram {family}{dict(key)}: _sum or _count missing")
            if g["count"] != counts[-1]:
                raise Invalid(f"histogram {family}{dict(key)}: _count {g['count']} != +Inf bucket {counts[-1]}")


def query(samples, expr):
    m = re.fullmatch(rf"({NAME})(?:\{{(.*)\}})?", expr)
    if not m:
        raise SystemExit(f"prom_query: bad expression {expr!r}")
    name, wanted = m.group(1), parse_labels(m.group(2) or "", "expression")
    values = [v for n, labels, v in samples
              if n == name and all(labels.get(k) == v2 for k, v2 in wanted.items())]
    if not values:
        return "absent"
    total = sum(values)
    return str(int(total)) if total == int(total) else repr(total)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        types, samples = parse(text)
    except Invalid as e:
        print(f"invalid exposition: {e}")
        sys.exit(1)
    if len(sys.argv) == 2:
        print(f"ok: {len(types)} families, {len(samples)} samples")
    for expr in sys.argv[2:]:
        print(query(samples, expr))


if __name__ == "__main__":
    main()
