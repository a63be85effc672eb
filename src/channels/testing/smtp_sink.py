#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for the channel tests, on loopback.

Writes each accepted message to DIR/NNNN.eml (the bytes received after DATA) and DIR/NNNN.json
(envelope, connection number, TLS and AUTH state). Prints "READY <port>" once listening; runs
until killed. Recipients steer failures:
  tempfail@...      -> 451 at RCPT         reject@...       -> 550 at RCPT
  data-tempfail@... -> 451 after DATA      data-reject@...  -> 554 after DATA
"""
import argparse
import asyncio
import itertools
import json
import os
import socket
import ssl
import warnings
import logging

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=0, help="0: any free port")
parser.add_argument("--tls-cert")
parser.add_argument("--tls-key")
parser.add_argument("--require-starttls", action="store_true")
parser.add_argument("--auth", help="user:password; AUTH becomes required")
args = parser.parse_args()
warnings.filterwarnings("ignore")  # "AUTH without TLS": intended, the tests run on loopback
logging.getLogger("mail.log").setLevel(logging.ERROR)

connections = itertools.count(1)
messages = itertools.count(1)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local == "tempfail":
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if local == "reject":
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        locals_ = {a.split("@", 1)[0] for a in envelope.rcpt_tos}
        if "data-tempfail" in locals_:
            return "451 4.7.1 Greylisted, please retry"
        if "data-reject" in locals_:
            return "554 5.7.1 Message rejected as spam"
        n = next(messages)
        base = os.path.join(args.dir, "%04d" % n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "connection": server.connection_number,
                "tls": session.ssl is not None,
                "auth": session.auth_data.login.decode() if session.auth_data else None,
            }, f)
        os.rename(base + ".eml.tmp", base + ".eml")  # the .eml appears last, complete
        return "250 2.0.0 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword) or args.auth is None:
        return AuthResult(success=False, handled=False)
    user, password = args.auth.split(":", 1)
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    if not ok:
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535
    return AuthResult(success=True, auth_data=auth_data)


class CountingSMTP(SMTP):
    def connection_made(self, transport):
        super().connection_made(transport)
        if not hasattr(self, "connection_number"):  # STARTTLS calls this again: same connection
            self.connection_number = next(connections)


async def main():
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(64)
    loop = asyncio.get_running_loop()

    def factory():
        return CountingSMTP(
            Handler(),
            hostname="sink.test",
            tls_context=tls_context,
            require_starttls=args.require_starttls,
            authenticator=authenticator,
            auth_required=args.auth is not None,
            auth_require_tls=False,
            loop=loop,
        )

    server = await loop.create_server(factory, sock=sock)
    print("READY %d" % sock.getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
