"""A TCP relay to a server that a test or a benchmark can cut: a partition between two processes."""

import contextlib
import selectors
import socket
import threading

from bench.processes import free_port

CHUNK = 65536


class TcpRelay:
    """Forwards connections on a free port of 127.0.0.1 to `target_port`, until cut.

    Cut, it drops every connection it carries and refuses new ones, as a link that went
    down does to the one process behind it; the server and its other clients go on.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()

    def start(self) -> "TcpRelay":
        """Listen (again) and forward every connection accepted."""
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        listener, self._listener = self._listener, None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        # shutdown() first: close() alone neither wakes a blocked accept() nor tells the peer.
        for end in [listener] if listener is not None else []:
            _shut(end)
        for pair in pairs:
            for end in pair:
                _shut(end)

    heal = start
    stop = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            try:
                for end in peers:
                    selector.register(end, selectors.EVENT_READ)
                while True:
                    for key, _ in selector.select():
                        data = key.fileobj.recv(CHUNK)  # type: ignore[union-attr]
                        if not data:
                            return
                        peers[key.fileobj].sendall(data)  # type: ignore[index]
            except (OSError, ValueError):  # an end closed, here or by cut()
                return
            finally:
                client.close()
                upstream.close()


def _shut(end: socket.socket) -> None:
    """Shut `end` down both ways and close it, whatever state it is in."""
    with contextlib.suppress(OSError):  # not connected, or closed already
        end.shutdown(socket.SHUT_RDWR)
    end.close()
