"""A wsguard example server (wsg-echo) as a child process for the Python
suites (tests/conformance, tests/interop): started on 127.0.0.1 with
--port 0, its port read from the "listening on" line on its stderr, stopped
with SIGTERM (then SIGKILL after 5 s). Every wait is bounded.
"""
import re
import signal
import subprocess
import threading

LISTENING = re.compile(r"listening on ws://127\.0\.0\.1:(\d+)")


class ServerProcess:
    """Runs `cmd` --host 127.0.0.1 --port 0 `args`. After __init__, `port`
    and `url` are set, or `port` is None when no port was reported within
    `wait` seconds (the process is then stopped). `lines`: stderr so far.
    `children`, a list, gets the Popen at once (for cleanup at exit)."""

    def __init__(self, cmd, args=(), wait=10.0, children=None):
        self.lines = []
        self.port = None
        self.url = None
        self.proc = subprocess.Popen(
            list(cmd) + ["--host", "127.0.0.1", "--port", "0"] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace")
        if children is not None:
            children.append(self.proc)
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                m = LISTENING.search(line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()
        self.thread = threading.Thread(target=drain, daemon=True)
        self.thread.start()
        ready.wait(wait)
        if self.port is None:
            self.stop()
        else:
            self.url = "ws://127.0.0.1:%d/" % self.port

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                return None
        return self.proc.returncode
