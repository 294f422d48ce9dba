"""A suite service run as a child process, its JSON log lines (stderr) read as they come, for the
Python tests that drive services from outside (tests/rpc, tests/e2e)."""
import json
import os
import select
import subprocess
import time


class ServiceProcess:
    """Starts `args` with `env`; wait_for() reads its log until a line with a given "msg" appears."""

    def __init__(self, name, args, env):
        self.name = name
        self.proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.lines = []
        self._partial = b""

    def wait_for(self, msg, timeout=60):
        """Returns the first JSON log line whose "msg" is `msg`, reading for at most `timeout` seconds."""
        end = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if line.get("msg") == msg:
                    return line
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise AssertionError("%s: no %r log line within %ss:\n%s" % (self.name, msg, timeout, self.text()))
            ready, _, _ = select.select([self.proc.stderr], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.proc.stderr.fileno(), 65536)
            if not chunk:
                raise AssertionError("%s exited (%s) before %r:\n%s" % (self.name, self.proc.wait(), msg, self.text()))
            self._partial += chunk
            *complete, self._partial = self._partial.split(b"\n")
            for raw in complete:
                try:
                    self.lines.append(json.loads(raw))
                except ValueError:
                    self.lines.append({"raw": raw.decode(errors="replace")})

    def text(self):
        return "\n".join(json.dumps(line, ensure_ascii=False) for line in self.lines[-80:])

    def stop(self):
        """SIGTERM, then SIGKILL after 15 s; idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
