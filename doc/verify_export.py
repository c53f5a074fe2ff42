#!/usr/bin/env python3
"""Recompute xiaohao's hash chain from an export, independently of xiaohao.

Usage: xiaohao read --data DIR > log.jsonl; python3 verify_export.py log.jsonl [COUNT:HEAD]
Prints 'ok <count> events, head <hash>' or 'broken at position <P>: <reason>'.
The encoding is doc/event_format.md.
"""
import hashlib
import json
import struct
import sys


def s(text):
    b = text.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def envelope(e, prev):
    return (b"\x01" + struct.pack(">QQq", e["position"], e["version"], e["recorded_at_us"])
            + s(e["stream_id"]) + s(e["type"]) + s(e["occurred_at"])
            + s(e["actor"]["user_id"]) + s(e["actor"]["role"]) + s(e["actor"]["office"])
            + s(e["command_id"]) + s(e["payload_json"]) + prev)


def main():
    kept = sys.argv[2].split(":") if len(sys.argv) > 2 else None
    prev, count, hash_at_kept = bytes(32), 0, None
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            count += 1
            if e["position"] != count:
                return print(f"broken at position {count}: found position {e['position']}") or 1
            if bytes.fromhex(e["prev_hash"]) != prev:
                return print(f"broken at position {count}: previous hash does not match") or 1
            if json.loads(e["payload_json"]) != e["payload"]:
                return print(f"broken at position {count}: payload differs from payload_json") or 1
            h = hashlib.sha256(envelope(e, prev)).digest()
            if h.hex() != e["hash"]:
                return print(f"broken at position {count}: content does not match its hash") or 1
            prev = h
            if kept and count == int(kept[0]):
                hash_at_kept = h.hex()
    if kept and count < int(kept[0]):
        return print(f"broken at position {count + 1}: the log ends before the kept head (truncated)") or 1
    if kept and hash_at_kept != kept[1]:
        return print(f"broken at position {kept[0]}: the hash differs from the kept head") or 1
    print(f"ok {count} events" + (f", head {prev.hex()}" if count else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
