#!/usr/bin/env python3
"""An independent implementation of the tracking token format (docs/tracking.md), for the tests.

Keys are derived with Python's hmac, AES-256-CTR is done by the openssl command-line tool, so
neither shares code with src/tracking/links.cc.

  token_tool.py decode SECRET_HEX TOKEN
      prints {"valid": false} or {"valid": true, "kind": 2, "issued": 1795510800,
              "fields": [key, user, journey, step], "url": "..."}
  token_tool.py issue SECRET_HEX KIND SECONDS KEY USER JOURNEY STEP [URL]
      prints a token
"""
import base64
import hashlib
import hmac
import json
import subprocess
import sys

VERSION = 1


def keys(secret):
    enc = hmac.new(secret, b"touchpoint tracking v1 encryption key", hashlib.sha256).digest()
    mac = hmac.new(secret, b"touchpoint tracking v1 mac key", hashlib.sha256).digest()
    return enc, mac


def b64encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def aes_ctr(key, iv, data):
    return subprocess.run(
        ["openssl", "enc", "-aes-256-ctr", "-K", key.hex(), "-iv", iv.hex(), "-nosalt", "-nopad"],
        input=data, capture_output=True, check=True).stdout


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(data, i):
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def decode(secret, token):
    enc, mac = keys(secret)
    body_text, tag_text = token.split(".")
    body, tag = b64decode(body_text), b64decode(tag_text)
    if body[0] != VERSION:
        return {"valid": False}
    plain = aes_ctr(enc, tag, body[1:])
    expected = hmac.new(mac, bytes([VERSION]) + plain, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(expected, tag):
        return {"valid": False}
    kind = plain[0]
    issued, i = read_varint(plain, 1)
    fields = []
    for _ in range(4 + (1 if kind == 2 else 0)):
        length, i = read_varint(plain, i)
        fields.append(plain[i:i + length].decode("utf-8"))
        i += length
    result = {"valid": True, "kind": kind, "issued": issued, "fields": fields[:4]}
    if kind == 2:
        result["url"] = fields[4]
    return result


def issue(secret, kind, seconds, fields):
    enc, mac = keys(secret)
    plain = bytes([kind]) + varint(seconds)
    for field in fields:
        data = field.encode("utf-8")
        plain += varint(len(data)) + data
    tag = hmac.new(mac, bytes([VERSION]) + plain, hashlib.sha256).digest()[:16]
    return b64encode(bytes([VERSION]) + aes_ctr(enc, tag, plain)) + "." + b64encode(tag)


def main():
    command, secret = sys.argv[1], bytes.fromhex(sys.argv[2])
    if command == "decode":
        print(json.dumps(decode(secret, sys.argv[3])))
    elif command == "issue":
        print(issue(secret, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]))
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
