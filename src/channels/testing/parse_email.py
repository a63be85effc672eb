#!/usr/bin/python3
"""Independent MIME check for the tests: Python's email package parses the message file
argv[1] and prints what a mail client would see, as one JSON object: decoded headers, the
parts' content types and decoded bodies, and the longest raw line."""
import email
import email.policy
import json
import sys

raw = open(sys.argv[1], "rb").read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
out = {
    "headers": {k: str(v) for k, v in msg.items()},
    "defects": [str(d) for d in msg.defects],
    "content_type": msg.get_content_type(),
    "parts": [],
    "max_line": max(len(line) for line in raw.split(b"\r\n")),
    "bare_lf": raw.replace(b"\r\n", b"").count(b"\n"),
}
for part in msg.walk():
    if part.is_multipart():
        continue
    out["parts"].append({
        "content_type": part.get_content_type(),
        "charset": part.get_content_charset(),
        "body": part.get_content(),
        "defects": [str(d) for d in part.defects],
    })
print(json.dumps(out))
