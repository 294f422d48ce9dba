"""A suite service run as a child process, its JSON log lines (stderr) read as they come, for the
Python tests that drive services from outside (tests/rpc, tests/e2e)."""
import collections
import json
import os
import subprocess
import threading
import time


class ServiceProcess:
    """Starts `args` with `env`; wait_for() waits until a log line with a given "msg" appears.

    A thread reads the log for the process's whole life, so a chatty service never blocks on a full pipe;
    the last 20 000 lines are kept."""

    def __init__(self, name, args, env):
        self.name = name
        self.proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.lines = collections.deque(maxlen=20000)
        self._exited = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="log-" + name, daemon=True)
        self._reader.start()

    def _read(self):
        partial = b""
        fd = self.proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            partial += chunk
            *complete, partial = partial.split(b"\n")
            parsed = []
            for raw in complete:
                try:
                    parsed.append(json.loads(raw))
                except ValueError:
                    parsed.append({"raw": raw.decode(errors="replace")})
            with self._changed:
                self.lines.extend(parsed)
                self._changed.notify_all()
        with self._changed:
            self._exited = True
            self._changed.notify_all()

    def wait_for(self, msg, timeout=60):
        """Returns the first JSON log line whose "msg" is `msg`, waiting for at most `timeout` seconds."""
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if line.get("msg") == msg:
                        return line
                if self._exited:
                    raise AssertionError("%s exited (%s) before %r:\n%s" % (self.name, self.proc.wait(), msg,
                                                                            self._text()))
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("%s: no %r log line within %ss:\n%s" % (self.name, msg, timeout,
                                                                                 self._text()))
                self._changed.wait(remaining)

    def _text(self):
        return "\n".join(json.dumps(line, ensure_ascii=False) for line in list(self.lines)[-80:])

    def text(self):
        with self._changed:
            return self._text()

    def stop(self):
        """SIGTERM, then SIGKILL after 15 s; idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
