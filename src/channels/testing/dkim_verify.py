#!/usr/bin/python3
"""Independent DKIM check for the tests: dkimpy (python3-dkim) verifies the first
DKIM-Signature of the message file argv[1], with the selector's DNS TXT record given as
argv[2] instead of a DNS lookup. Exit 0 when the signature verifies, 1 when it does not."""
import sys
import logging

import dkim

logging.basicConfig(level=logging.DEBUG if len(sys.argv) > 3 else logging.WARNING, stream=sys.stderr, format="dkimpy: %(message)s")
message = open(sys.argv[1], "rb").read()
record = sys.argv[2].encode()


def dns(name, timeout=5):
    return record


ok = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=dns)
print("DKIM " + ("pass" if ok else "fail"), flush=True)
sys.exit(0 if ok else 1)
