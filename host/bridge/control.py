"""Talking to a running bridge over its control socket (JSON lines)."""

import json
import socket

from pocket_agent.errors import PocketError


class Control:
    def __init__(self, path, timeout=15.0):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError):
            self.sock.close()
            raise PocketError(f"no bridge is running (no control socket at {self.path})",
                              hint="start one with `pocket bridge`, or set control_socket / "
                                   "POCKET_BRIDGE_CONTROL_SOCKET to the one it uses") from None
        self.file = self.sock.makefile("rb")

    def call(self, cmd, **args):
        self.sock.sendall((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        return self.answer()

    def answer(self):
        try:
            line = self.file.readline()
        except socket.timeout:
            raise PocketError("the bridge did not answer in time") from None
        if not line:
            raise PocketError("the bridge closed the control connection")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise PocketError(reply.get("error", "the bridge refused"))
        return reply

    def close(self):
        self.file.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
