"""A text/event-stream reader of the gateway's live stream (GET /v1/stream) over one HTTP/1.1 connection,
for end-to-end tests."""
import json
import socket


class SseClient:
    """A text/event-stream reader over one HTTP/1.1 connection."""

    def __init__(self, port, authorization, last_event_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        req = "GET /v1/stream HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\nAuthorization: %s\r\n" % authorization
        if last_event_id:
            req += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        head = self._read_block()
        assert b" 200 " in head.split(b"\r\n")[0], head

    def _read_block(self):
        while True:
            for sep in (b"\r\n\r\n", b"\n\n"):
                i = self.buf.find(sep)
                if i >= 0:
                    block, self.buf = self.buf[:i], self.buf[i + len(sep):]
                    return block
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("stream closed")
            self.buf += chunk

    def read_until(self, done, limit=500):
        """Reads events until done(event) is true; returns that event's id."""
        for _ in range(limit):
            block = self._read_block().decode()
            event = {"id": None, "event": None, "data": {}}
            data = []
            for line in block.splitlines():
                if line.startswith("id:"):
                    event["id"] = line[3:].strip()
                elif line.startswith("event:"):
                    event["event"] = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
            if not "".join(data):
                continue  # a heartbeat comment, or an id-only checkpoint
            event["data"] = json.loads("\n".join(data))
            if done(event):
                return event["id"]
        raise AssertionError("the awaited event did not come")

    def close(self):
        self.sock.close()
