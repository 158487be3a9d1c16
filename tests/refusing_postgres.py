"""A PostgreSQL endpoint that refuses every connection, speaking the real wire protocol.

The local PostgreSQL trusts every connection (any password is accepted) and is up,
so neither a wrong password nor a server that is still starting can be produced
with it. This server answers libpq's SSL/GSS probes, then either asks for a
cleartext password and answers it with PostgreSQL's own FATAL 28P01 (what psycopg2
sees from a server configured for password auth), or, ``starting``, answers the
startup with FATAL 57P03 as a server in crash recovery or start-up does.
"""

from __future__ import annotations

import socket
import struct
import threading

SSL_REQUEST, GSS_REQUEST = 80877103, 80877104


def _error_response(code: str, message: str) -> bytes:
    fields = [b"SFATAL", b"VFATAL", f"C{code}".encode(), f"M{message}".encode()]
    body = b"".join(field + b"\0" for field in fields) + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


class RefusingPostgres:
    def __init__(self, starting: bool = False) -> None:
        self.starting = starting
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, user: str, password: str, database: str = "whisperops") -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._refuse, args=(client,), daemon=True).start()

    def _refuse(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            try:
                while True:
                    (length,) = struct.unpack("!I", _read(client, 4))
                    message = _read(client, length - 4)
                    (code,) = struct.unpack("!I", message[:4])
                    if code in (SSL_REQUEST, GSS_REQUEST):
                        client.sendall(b"N")
                        continue
                    break
                params = message[4:].split(b"\0")
                user = dict(zip(params[::2], params[1::2], strict=False)).get(b"user", b"?")
                if self.starting:
                    client.sendall(_error_response("57P03", "the database system is starting up"))
                    return
                client.sendall(b"R" + struct.pack("!II", 8, 3))  # cleartext password, please
                _read(client, 5)  # 'p' and the length; the password itself is not read
                failed = f'password authentication failed for user "{user.decode()}"'
                client.sendall(_error_response("28P01", failed))
            except (OSError, struct.error):
                pass

    def close(self) -> None:
        self.listener.close()


def _read(client: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = client.recv(count - len(data))
        if not chunk:
            raise OSError("client went away")
        data += chunk
    return data
