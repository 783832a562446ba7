"""A TCP proxy on loopback in front of a real server, with faults switched on at will.

The fault-injection tests put it between the pipeline and a real S3 endpoint (moto server) to
make the service unreachable, throttle it, or freeze it mid-upload, without touching the
server's state: what the test then reads directly from the server is what survived.

`hold_requests(path_part)` freezes the first request whose path holds `path_part` (an HTTP
request line read off the connection, percent-escapes decoded): the client waits for an
answer that never comes, at a point of the pipeline the test chose (reading a delivery,
writing the archive, an export, the combined file), until the test kills it or `release()`s.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote

THROTTLE_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_BUFFER = 64 * 1024
_REQUEST_LINE = re.compile(rb"(?:^|\r\n)([A-Z]+) ([^ \r\n?]+)[^ \r\n]* HTTP/1\.[01]\r\n")
"""A request's method and path (without its query), wherever a request starts in a chunk."""


class Mode(Enum):
    PASS = "pass"
    """Forward every byte both ways."""
    CUT = "cut"
    """Unreachable: open connections are closed, new ones refused (closed on accept)."""
    STALL = "stall"
    """Accept and read, never answer: the client hangs until its timeout (or is killed)."""


@dataclass
class FaultCounts:
    connections: int = 0
    refused: int = 0
    throttled: int = 0
    stalled: int = 0


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    mode: Mode = Mode.PASS
    counts: FaultCounts = field(default_factory=FaultCounts)
    _throttle_left: int = 0
    _hold: str | None = None
    held: threading.Event = field(default_factory=threading.Event)
    """Set once a request matching `hold_requests` arrived and is being held."""
    held_requests: list[str] = field(default_factory=list)
    accept_errors: list[str] = field(default_factory=list)
    _listener: socket.socket | None = None
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self._listener is not None, "start() the proxy first"
        return self._listener.getsockname()[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        listener = socket.create_server(("127.0.0.1", 0))
        self._listener = listener
        threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._close_open()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_mode(self, mode: Mode) -> None:
        """Switch the fault; CUT and STALL also drop the connections open now, so a client
        reusing a pooled connection meets the fault too."""
        self.mode = mode
        if mode is not Mode.PASS:
            self._close_open()

    def throttle(self, requests: int) -> None:
        """Answer the next `requests` connections' first request with 503 SlowDown (S3's
        throttling reply), then pass again. Open connections are dropped so the client's
        next request comes on a new one."""
        with self._lock:
            self._throttle_left = requests
        self._close_open()

    def hold_requests(self, path_part: str) -> None:
        """Hold the first request whose path (percent-escapes decoded) contains `path_part`, and
        any later one, unanswered; other requests pass."""
        self.held.clear()
        self._hold = path_part

    def release(self) -> None:
        """Stop holding: held connections are closed (their clients see a dropped connection,
        if still alive), later requests pass."""
        self._hold = None
        self._close_open()

    # -- internals ------------------------------------------------------------------------------

    def _close_open(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                client, _ = listener.accept()
            except OSError as err:
                if self._listener is None:
                    return  # stopped
                self.accept_errors.append(repr(err))  # e.g. a client gone before accept
                continue
            self.counts.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._throttle_left > 0:
                self._throttle_left -= 1
                return True
            return False

    def _serve(self, client: socket.socket) -> None:
        if self.mode is Mode.CUT:
            self.counts.refused += 1
            _close(client)
            return
        self._track(client)
        if self.mode is Mode.STALL:
            self.counts.stalled += 1
            _drain(client)  # read until the client gives up or the proxy is switched
            _close(client)
            return
        if self._take_throttle():
            self.counts.throttled += 1
            _answer_slow_down(client)
            return
        try:
            upstream = socket.create_connection((self.upstream_host, self.upstream_port))
        except OSError:
            _close(client)
            return
        self._track(upstream)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        self._pipe_requests(client, upstream)

    def _pipe_requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward the client's bytes, until a request to hold arrives: then stop forwarding
        (and answering) this connection."""
        try:
            while chunk := client.recv(_BUFFER):
                hold = self._hold
                if hold is not None and self._holds(chunk, hold):
                    _drain(client)  # until the client dies or release() closes it
                    return
                upstream.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    def _holds(self, chunk: bytes, hold: str) -> bool:
        for method, path in _REQUEST_LINE.findall(chunk):
            decoded = unquote(path.decode("latin-1"))
            if hold in decoded:
                self.counts.stalled += 1
                self.held_requests.append(f"{method.decode()} {decoded}")
                self.held.set()
                return True
        return False


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(_BUFFER):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        _close(source)
        _close(target)


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(_BUFFER):
            pass


def _answer_slow_down(client: socket.socket) -> None:
    """Read the request head, answer 503 SlowDown and close (the body, if any, is not read:
    S3 clients send `Expect: 100-continue` and wait, or see the reply while sending)."""
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(_BUFFER)
            if not chunk:
                return
            head += chunk
        reply = (
            b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
            + f"Content-Length: {len(THROTTLE_BODY)}\r\n".encode()
            + b"Connection: close\r\n\r\n"
            + THROTTLE_BODY
        )
        client.sendall(reply)
    except OSError:
        pass
    finally:
        _close(client)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
