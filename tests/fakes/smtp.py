"""A fake SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives.

    with FakeSMTP() as smtp:                       # plain, no authentication
        options: SMTPServer=smtp.host, SMTPPort=smtp.port
        ...
        mail = smtp.last                           # .to, .subject, .html, .sender
        code = smtp.find(r"<p [^>]*>([0-9a-f]{6})</p>")

    FakeSMTP(username="bot@example.com", password="pw")   # AUTH required
    FakeSMTP(tls=TlsFiles(...), starttls=True)            # STARTTLS offered (and required)
    FakeSMTP(tls=TlsFiles(...), implicit_tls=True)        # TLS from the first byte

``self_signed(tmp_path)`` makes a certificate for 127.0.0.1/localhost with the
openssl command (the gateway trusts it through ``ONEAPI_SMTP_CA_FILE``).
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed(directory: Path) -> TlsFiles | None:
    """A throw-away certificate for 127.0.0.1, or None without the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return TlsFiles(cert, key)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None  # the AUTH user name, when the client authenticated
    secure: bool       # received over TLS (implicit or STARTTLS)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def to(self) -> str:
        return str(self.message["To"] or "")

    @property
    def html(self) -> str:
        body = self.message.get_body(("html", "plain"))
        return str(body.get_content()) if body is not None else ""


@dataclass
class _Handler:
    owner: FakeSMTP
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        # STARTTLS sets session.ssl; an implicit-TLS transport carries an SSL object.
        transport = getattr(server, "transport", None)
        secure = session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None)
        with self.owner.lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                   message, login, secure))  # type: ignore[arg-type]
        return "250 OK"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class FakeSMTP:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, username: str = "",
                 password: str = "", tls: TlsFiles | None = None, starttls: bool = False,
                 implicit_tls: bool = False) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.username, self.password = username, password
        self.lock = threading.Lock()
        self.handler = _Handler(self)
        self.auth_failures = 0
        kwargs: dict[str, Any] = {}
        if username:
            # AUTH over plain text is what a local relay without TLS gets.
            kwargs.update(authenticator=self._authenticate, auth_required=bool(tls),
                          auth_require_tls=bool(tls))
        if tls is not None and starttls:
            kwargs.update(tls_context=tls.server_context(), require_starttls=True)
        ssl_context = tls.server_context() if tls is not None and implicit_tls else None
        self.controller = Controller(self.handler, hostname=host, port=self.port,
                                     ssl_context=ssl_context, server_hostname="fake-smtp",
                                     **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode() == self.username
                and auth_data.password.decode() == self.password):
            return AuthResult(success=True, auth_data=auth_data)
        self.auth_failures += 1
        return AuthResult(success=False, handled=False)

    # ----------------------------------------------------------------- control
    def start(self) -> FakeSMTP:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def mails(self) -> list[Mail]:
        with self.lock:
            return list(self.handler.mails)

    @property
    def last(self) -> Mail:
        mails = self.mails
        if not mails:
            raise AssertionError("the fake SMTP server received no mail")
        return mails[-1]

    def clear(self) -> None:
        with self.lock:
            self.handler.mails.clear()

    def find(self, pattern: str, mail: Mail | None = None) -> str:
        """The first group of `pattern` in the HTML of `mail` (default: the last one)."""
        text = (mail or self.last).html
        match = re.search(pattern, text)
        if match is None:
            raise AssertionError(f"{pattern!r} not found in mail:\n{text}")
        return match.group(1)

    def options(self) -> dict[str, Any]:
        """Gateway options pointing at this server."""
        return {"SMTPServer": self.host, "SMTPPort": str(self.port),
                "SMTPAccount": self.username, "SMTPToken": self.password,
                "SMTPFrom": self.username or "noreply@example.com"}
