"""Test harness: the real server binary, a real SMTP server (aiosmtpd, in a
thread) and a TCP proxy that can drop connections."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aiosmtpd.controller import Controller


def repo_top() -> Path:
    """The repository's top folder (Cargo.toml and proto/)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Cargo.toml").exists() and (parent / "proto").is_dir():
            return parent
    raise RuntimeError("cannot find the repository top (Cargo.toml + proto/)")


def server_binary() -> Path:
    """$CUSTOMERHUB_BIN, else target/debug/customerhub (built when missing)."""
    if os.environ.get("CUSTOMERHUB_BIN"):
        return Path(os.environ["CUSTOMERHUB_BIN"])
    top = repo_top()
    binary = top / "target" / "debug" / "customerhub"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--bin", "customerhub"], cwd=top, check=True)
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Mail:
    to: list[str]
    subject: str
    text: str


@dataclass
class MailSink:
    """Keeps every mail the aiosmtpd server receives."""

    mails: list[Mail] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self.arrived:
            self.mails.append(
                Mail([a.lower() for a in envelope.rcpt_tos], str(message["subject"] or ""), text)
            )
            self.arrived.notify_all()
        return "250 OK"

    def wait_for_mail_to(
        self, address: str, predicate: Callable[[Mail], bool] = lambda m: True, timeout: float = 15.0
    ) -> Mail:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for mail in self.mails:
                    if address.lower() in mail.to and predicate(mail):
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {address} within {timeout} s; got {self.mails!r}")
                self.arrived.wait(left)


def activation_token(mail: Mail) -> str:
    """The token of the activation link (``.../activate?token=XYZ``)."""
    match = re.search(r"activate\?token=([^\s\"'<>&]+)", mail.text)
    assert match, f"no activation link in: {mail.text}"
    return urllib.parse.unquote(match.group(1))


@dataclass
class RunningServer:
    address: str  # host:port for grpc
    host: str
    port: int
    api_key: str
    mail: MailSink
    process: subprocess.Popen[str]
    smtp: Controller
    data_dir: str
    log: list[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.smtp.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_server() -> RunningServer:
    """Starts ``customerhub serve`` on a free port (fresh SQLite database in a
    temp folder, aiosmtpd as its SMTP server) after ``bootstrap`` made a
    workspace and its admin's API key."""
    binary = server_binary()
    data_dir = tempfile.mkdtemp(prefix="customerhub-py-")
    sink = MailSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMERHUB_") and k != "RUST_LOG"}
    env.update(
        CUSTOMERHUB_LISTEN="127.0.0.1:0",
        CUSTOMERHUB_HTTP_LISTEN="127.0.0.1:0",
        CUSTOMERHUB_DATABASE_URL=f"sqlite://{data_dir}/customerhub.db?mode=rwc",
        CUSTOMERHUB_DATA_DIR=data_dir,
        CUSTOMERHUB_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
        CUSTOMERHUB_DEFAULT_HUB_URL="https://hub.example.dk",
        CUSTOMERHUB_DELIVERY_POLL_MS="100",
        CUSTOMERHUB_STREAM_HEARTBEAT_MS="500",
        CUSTOMERHUB_PASSWORD_HASH_MEMORY_KIB="4096",
        CUSTOMERHUB_LOG_FORMAT="json",
        CUSTOMERHUB_LOG="info",
    )
    boot = subprocess.run(
        [str(binary), "bootstrap", "--workspace", "Rengøring A/S", "--admin-email", "admin@example.dk"],
        env=env,
        capture_output=True,
        text=True,
    )
    if boot.returncode != 0:
        raise RuntimeError(f"bootstrap failed ({boot.returncode}):\n{boot.stderr}")
    api_key = boot.stdout.strip().splitlines()[-1].strip()

    process = subprocess.Popen(
        [str(binary), "serve"], env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    log: list[str] = []
    found: dict[str, int] = {}
    ready = threading.Event()

    def read_log() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line.rstrip("\n"))
            if os.environ.get("CUSTOMERHUB_TEST_SERVER_LOG"):
                print("[server]", line, end="")
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            fields = entry.get("fields", {})
            if fields.get("message") == "customerhub serving" and "addr" in fields:
                found["port"] = int(str(fields["addr"]).rsplit(":", 1)[1])
                ready.set()
        ready.set()  # stderr closed: the server exited

    threading.Thread(target=read_log, daemon=True).start()
    if not ready.wait(60) or "port" not in found:
        process.kill()
        smtp.stop()
        raise RuntimeError("server did not start:\n" + "\n".join(log))
    port = found["port"]
    return RunningServer(f"127.0.0.1:{port}", "127.0.0.1", port, api_key, sink, process, smtp, data_dir, log)


class DroppingProxy:
    """A TCP proxy in front of the server, so a test can cut every connection
    through it (as a network failure would) while the server keeps running."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def drop_all(self) -> int:
        """Cuts every open connection at once; returns how many sockets there were."""
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            self._close(s)
        return len(sockets)

    def stop(self) -> None:
        self._closed = True
        self._listener.close()
        self.drop_all()
