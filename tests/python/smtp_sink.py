"""A local SMTP server for the tests: aiosmtpd on 127.0.0.1 (a free port), each message
written to stdout as one JSON line {"from", "to", "data"}. Prints "port N" first.

Usage: smtp_sink.py [--auth USER:PASSWORD]   (with --auth, AUTH PLAIN/LOGIN is required)
"""
import json
import socket
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                          "data": envelope.content.decode("utf-8", "replace")}), flush=True)
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok)
    return check


def main():
    auth = None
    if len(sys.argv) > 2 and sys.argv[1] == "--auth":
        auth = sys.argv[2].split(":", 1)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kwargs = {}
    if auth:
        kwargs = {"authenticator": authenticator(*auth), "auth_require_tls": False, "auth_required": True}
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print(f"port {port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
