#!/usr/bin/env python3
"""A tiny UDP DNS server for the tests: answers A and AAAA queries from a fixed table.

  fake_dns.py --ip 127.0.0.50 [--port 0] --port-file F [--log F] [--ttl 60]
              [--record NAME=ADDR ...] [--cname ALIAS=NAME ...] [--records-file F]
              [--silent | --servfail]

A name in the table gets its records of the asked type (none of that type: an empty
NOERROR answer, "no data"); an alias gets a CNAME record followed by its target's
records; any other name gets NXDOMAIN. --silent reads queries and
never answers (a dead server); --servfail answers every query with SERVFAIL. Each
query is logged as one line "NAME TYPE" (TYPE: A, AAAA or the number). The bound UDP
port is written to --port-file once the server is ready. --records-file F adds the
NAME=ADDR lines of F (blank lines and "#" comments skipped) to the --record ones, and is
read again on SIGHUP (then "reloaded N records" is printed on stdout): a test changes the
table at run time by rewriting F and signalling. Standard library only.
"""
import argparse
import ipaddress
import os
import signal
import socket
import struct
import sys

TYPE_A, TYPE_CNAME, TYPE_AAAA = 1, 5, 28
TYPE_NAMES = {TYPE_A: "A", TYPE_AAAA: "AAAA"}
RCODE_SERVFAIL, RCODE_NXDOMAIN = 2, 3


def parse_question(packet):
    """Returns (id, flags, name, qtype, question_bytes), or None for a malformed query."""
    if len(packet) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1 or flags & 0x8000:  # one question, and a query rather than a response
        return None
    labels, pos = [], 12
    while True:
        if pos >= len(packet):
            return None
        length = packet[pos]
        pos += 1
        if length == 0:
            break
        if length & 0xC0 or pos + length > len(packet):  # no compression in questions
            return None
        labels.append(packet[pos:pos + length].decode("ascii", "replace"))
        pos += length
    if pos + 4 > len(packet):
        return None
    qtype, _qclass = struct.unpack("!HH", packet[pos:pos + 4])
    return qid, flags, ".".join(labels).lower(), qtype, packet[12:pos + 4]


def encode_name(name):
    return b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.split(".") if label) + b"\0"


def build_response(qid, flags, question, rcode, records, ttl):
    """records: (owner name or None for the question's name, type, rdata) tuples."""
    # QR, the query's opcode and RD, RA; authoritative answers.
    out_flags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
    header = struct.pack("!HHHHHH", qid, out_flags, 1, len(records), 0, 0)
    answers = b"".join(
        (struct.pack("!H", 0xC00C) if owner is None else encode_name(owner))
        + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata
        for owner, rtype, rdata in records
    )
    return header + question + answers


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log")
    parser.add_argument("--ttl", type=int, default=60)
    parser.add_argument("--record", action="append", default=[], metavar="NAME=ADDR")
    parser.add_argument("--cname", action="append", default=[], metavar="ALIAS=NAME")
    parser.add_argument("--records-file", metavar="F", help="more NAME=ADDR lines, read again on SIGHUP")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--silent", action="store_true", help="never answer")
    mode.add_argument("--servfail", action="store_true", help="answer SERVFAIL to everything")
    args = parser.parse_args()

    def file_records():
        if not args.records_file:
            return []
        with open(args.records_file) as f:
            lines = [line.strip() for line in f]
        return [line for line in lines if line and not line.startswith("#")]

    def build_table(records):
        table = {}  # name -> {qtype: [rdata bytes]}
        for record in records:
            name, sep, addr = record.partition("=")
            if not sep:
                raise ValueError(f"fake_dns: record {record!r}: expected NAME=ADDR")
            ip = ipaddress.ip_address(addr)
            qtype = TYPE_A if ip.version == 4 else TYPE_AAAA
            table.setdefault(name.lower().rstrip("."), {}).setdefault(qtype, []).append(ip.packed)
        return table

    try:
        table = build_table(args.record + file_records())
    except ValueError as e:
        sys.exit(str(e))

    def reload(_signum, _frame):
        nonlocal table
        try:
            records = file_records()
            table = build_table(args.record + records)
            print(f"reloaded {len(records)} records", flush=True)
        except (OSError, ValueError) as e:
            print(f"reload failed, table kept: {e}", flush=True)

    signal.signal(signal.SIGHUP, reload)
    aliases = {}  # alias -> target
    for cname in args.cname:
        alias, sep, target = cname.partition("=")
        if not sep:
            sys.exit(f"fake_dns: --cname {cname!r}: expected ALIAS=NAME")
        aliases[alias.lower().rstrip(".")] = target.lower().rstrip(".")

    family = socket.AF_INET6 if ":" in args.ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((args.ip, args.port))
    log = open(args.log, "a", buffering=1) if args.log else None
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{sock.getsockname()[1]}\n")
    os.replace(args.port_file + ".tmp", args.port_file)  # readers never see a partial file

    while True:
        packet, peer = sock.recvfrom(4096)
        query = parse_question(packet)
        if query is None:
            continue
        qid, flags, name, qtype, question = query
        if log:
            log.write(f"{name} {TYPE_NAMES.get(qtype, qtype)}\n")
        if args.silent:
            continue
        if args.servfail:
            response = build_response(qid, flags, question, RCODE_SERVFAIL, [], 0)
        elif name in aliases and aliases[name] in table:
            target = aliases[name]
            records = [(None, TYPE_CNAME, encode_name(target))]
            records += [(target, qtype, rdata) for rdata in table[target].get(qtype, [])]
            response = build_response(qid, flags, question, 0, records, args.ttl)
        elif name not in table:
            response = build_response(qid, flags, question, RCODE_NXDOMAIN, [], 0)
        else:
            records = [(None, qtype, rdata) for rdata in table[name].get(qtype, [])]
            response = build_response(qid, flags, question, 0, records, args.ttl)
        sock.sendto(response, peer)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
