"""Sending mail by SMTP (aiosmtplib), configured by the reference's options.

Options: ``SMTPServer``, ``SMTPPort`` (default 587), ``SMTPAccount``,
``SMTPToken`` (the password), ``SMTPFrom`` (defaults to the account),
``SystemName`` (sender name and template footer).

* port 465: implicit TLS; any other port: STARTTLS when the server offers it;
* authentication (PLAIN/LOGIN) only when an account or token is configured;
* several recipients separated by ``;``; the subject is RFC 2047-encoded, the
  message has a Message-ID and a Date; the body is HTML.

Unlike the reference, certificates are verified on port 465 too. Environment
variables, read at send time, adjust that for private servers:

* ``ONEAPI_SMTP_CA_FILE``: a PEM bundle of extra certificate authorities;
* ``ONEAPI_SMTP_INSECURE=true``: do not verify the server's certificate (the
  reference's behaviour on port 465).
"""

from __future__ import annotations

import html
import logging
import os
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

import aiosmtplib

from oneapi.options import Options

log = logging.getLogger("oneapi.accounts")

SMTP_TIMEOUT = 15.0


class MailError(Exception):
    """Mail could not be sent; the message says why."""


def email_template(system_name: str, title: str, content: str) -> str:
    """The reference's HTML frame: a title, the content, a footer with the system name."""
    return f"""<!DOCTYPE html>
<html>
<head>
    <meta charset="UTF-8">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
</head>
<body style="margin: 0; padding: 20px; font-family: Arial, sans-serif; line-height: 1.6; \
background-color: #f4f4f4;">
    <div style="max-width: 600px; margin: 20px auto; padding: 30px; background-color: #ffffff; \
border-radius: 8px; box-shadow: 0 2px 4px rgba(0, 0, 0, 0.1);">
        <div style="text-align: center; margin-bottom: 30px;">
            <h2 style="color: #333; margin: 0; font-size: 24px;">{html.escape(title)}</h2>
        </div>
        <div style="color: #555; font-size: 16px;">
            {content}
        </div>
        <div style="margin-top: 40px; padding-top: 20px; border-top: 1px solid #eee; \
color: #888; font-size: 14px; text-align: center;">
            <p style="margin: 5px 0;">此邮件由系统自动发送，请勿直接回复</p>
            <p style="margin: 5px 0;">{html.escape(system_name)}</p>
        </div>
    </div>
</body>
</html>
"""


def recipients(receiver: str) -> list[str]:
    return [r.strip() for r in receiver.split(";") if r.strip()]


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca_file = os.environ.get("ONEAPI_SMTP_CA_FILE", "")
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    if os.environ.get("ONEAPI_SMTP_INSECURE", "").strip().lower() in ("1", "true", "yes"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_message(options: Options, subject: str, to: list[str], body_html: str) -> EmailMessage:
    sender = options.get("SMTPFrom") or options.get("SMTPAccount")
    domain = sender.rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((options.get("SystemName"), sender))
    message["To"] = ", ".join(to)
    message["Message-ID"] = make_msgid(domain=domain)
    message["Date"] = formatdate(localtime=True)
    message.set_content(body_html, subtype="html", charset="utf-8")
    return message


async def send_email(options: Options, subject: str, receiver: str, body_html: str) -> None:
    """Send `body_html` to `receiver` (``a@x;b@y``); raises MailError."""
    to = recipients(receiver)
    if not to:
        raise MailError("receiver is empty")
    server = options.get("SMTPServer").strip()
    if not server:
        raise MailError("SMTP 服务器未配置")
    port = options.int("SMTPPort") or 587
    account, password = options.get("SMTPAccount"), options.get("SMTPToken")
    sender = options.get("SMTPFrom") or account
    if not sender:
        raise MailError("SMTP 发件人未配置")
    message = build_message(options, subject, to, body_html)
    implicit_tls = port == 465
    authenticate = bool(account or password)
    try:
        await aiosmtplib.send(
            message, sender=sender, recipients=to, hostname=server, port=port,
            username=account if authenticate else None,
            password=password if authenticate else None,
            use_tls=implicit_tls,
            start_tls=False if implicit_tls else None,  # None: when the server offers it
            tls_context=_tls_context(), timeout=SMTP_TIMEOUT,
        )
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError,
            aiosmtplib.SMTPServerDisconnected) as exc:
        log.warning("sending mail to %s via %s:%d failed: %s", receiver, server, port, exc)
        raise MailError(f"无法连接至 SMTP 服务器：{exc}") from exc
    except aiosmtplib.SMTPException as exc:
        log.warning("sending mail to %s via %s:%d failed: %s", receiver, server, port, exc)
        raise MailError(str(exc) or type(exc).__name__) from exc
    except (OSError, ssl.SSLError) as exc:
        log.warning("sending mail to %s via %s:%d failed: %s", receiver, server, port, exc)
        raise MailError(f"无法连接至 SMTP 服务器：{exc}") from exc
