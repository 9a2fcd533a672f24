#!/usr/bin/python3
"""Summarises a `perf record` of the proxy into a short flat profile.

usage: profile_summary.py PERF_DATA [TOP]

perf's own report is unreadable here: C++ template names run to kilobytes, and Debian's
libcrypto has no symbols for its assembly (SHA-256, AES-GCM show up as bare addresses). This
shortens names (templates and argument lists dropped), classifies libcrypto addresses by the
instructions around them (sha256rnds2 -> SHA-256, aesenc/pclmulqdq -> AES-GCM), and prints the
shares per library and the top functions.
"""
import re
import subprocess
import sys
from collections import defaultdict

LINE = re.compile(r"^\s+([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*(?:-\s+-\s*)?$")


def strip_templates(name):
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    name = "".join(out)
    name = re.sub(r"\(.*\)", "", name)
    name = name.replace("nlohmann::json_abi_v3_11_2::", "nlohmann::").replace("std::__cxx11::", "std::")
    return name.strip()


_classified = {}


def classify_crypto(lib, addr):
    bucket = addr & ~0xFF
    key = (lib, bucket)
    if key not in _classified:
        try:
            text = subprocess.run(["objdump", "-d", f"--start-address={bucket:#x}",
                                   f"--stop-address={bucket + 0x200:#x}", lib],
                                  capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        if "sha256rnds2" in text or "sha256msg" in text:
            what = "SHA-256 (SHA-NI)"
        elif re.search(r"\bv?aesenc|pclmulqdq", text):
            what = "AES-GCM"
        elif re.search(r"\bv?aesdec", text):
            what = "AES decrypt"
        elif "mulx" in text or "adcx" in text:
            what = "bignum/EC arithmetic"
        else:
            what = "other"
        _classified[key] = what
    return _classified[key]


def main():
    data = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--no-inline",
                             "--sort", "dso,sym", "-g", "none", "--percent-limit", "0"],
                            capture_output=True, text=True).stdout
    libs = {}
    for m in re.finditer(r"(\S+\.so[.0-9]*)", subprocess.run(["perf", "buildid-list", "-i", data],
                                                              capture_output=True, text=True).stdout):
        libs[m.group(1).rsplit("/", 1)[-1]] = m.group(1)
    by_dso, by_sym = defaultdict(float), defaultdict(float)
    for line in report.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pct, dso, _, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        by_dso[dso] += pct
        if re.fullmatch(r"0x[0-9a-f]+", sym) and dso.startswith("libcrypto") and dso in libs:
            sym = "[" + classify_crypto(libs[dso], int(sym, 16)) + "]"
        else:
            sym = strip_templates(sym)
        by_sym[(dso, sym)] += pct
    print(f"# {data}: share of samples per library")
    for dso, pct in sorted(by_dso.items(), key=lambda kv: -kv[1])[:10]:
        print(f"{pct:6.1f}%  {dso}")
    print(f"\n# top {top} functions (self time)")
    for (dso, sym), pct in sorted(by_sym.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{pct:6.1f}%  {dso:22.22s} {sym[:140]}")


if __name__ == "__main__":
    main()
