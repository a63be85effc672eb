#!/usr/bin/python3
"""Independent Standard Webhooks check for the tests (Python's hmac, not our code).
argv: secret (whsec_...), webhook-id, webhook-timestamp, webhook-signature, body file.
Exit 0 when one v1 signature in the header matches."""
import base64
import hashlib
import hmac
import sys

secret, msg_id, timestamp, header, body_file = sys.argv[1:6]
key = base64.b64decode(secret[len("whsec_"):])
body = open(body_file, "rb").read()
expected = base64.b64encode(
    hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()).decode()
for entry in header.split(" "):
    version, _, signature = entry.partition(",")
    if version == "v1" and hmac.compare_digest(signature, expected):
        print("signature ok")
        sys.exit(0)
print("signature mismatch: expected v1," + expected)
sys.exit(1)
