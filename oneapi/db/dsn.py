"""Turn the reference's `SQL_DSN` forms into SQLAlchemy async URLs.

Accepted, as the reference reads them:
  * empty                                  -> SQLite at SQLITE_PATH
  * ``postgres://user:pass@host:5432/db``  -> PostgreSQL (asyncpg)
  * Go MySQL DSNs, e.g. ``root:123456@tcp(localhost:3306)/oneapi?charset=utf8mb4``
                                           -> MySQL/MariaDB (aiomysql)
and, beyond the reference, any SQLAlchemy URL of the three databases
(``mysql://``, ``postgresql+asyncpg://``, ``sqlite:///path`` ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

Kind = Literal["sqlite", "mysql", "postgresql"]

_ASYNC_DRIVERS: dict[Kind, str] = {
    "sqlite": "sqlite+aiosqlite",
    "mysql": "mysql+aiomysql",
    "postgresql": "postgresql+asyncpg",
}
_BACKENDS: dict[str, Kind] = {
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgres": "postgresql",
    "postgresql": "postgresql",
}
# libpq's sslmode values are what asyncpg's `ssl` argument takes.
_PG_KEEP = {"ssl", "sslmode"}
_MYSQL_KEEP = {"charset", "unix_socket"}

_GO_MYSQL = re.compile(
    r"""^(?:(?P<user>[^:@]*)(?::(?P<password>.*))?@)?   # [user[:password]@]
        (?:(?P<net>[a-z0-9]+)(?:\((?P<addr>[^)]*)\))?)?   # [net[(addr)]]
        /(?P<db>[^/?]*)                                   # /dbname
        (?:\?(?P<params>.*))?$""",
    re.VERBOSE,
)


class DSNError(ValueError):
    """The DSN cannot be understood."""


_HELP = ("expected empty (SQLite), postgres://user:pass@host:port/db, "
         "user:pass@tcp(host:port)/db or a SQLAlchemy URL")


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database location with the async driver chosen."""

    url: URL
    kind: Kind

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"

    def safe(self) -> str:
        """The URL with the password masked, fit for logs."""
        return self.url.render_as_string(hide_password=True)

    def render(self) -> str:
        """The URL with the password, for handing to a driver."""
        return self.url.render_as_string(hide_password=False)


def sqlite_url(path: str) -> DatabaseURL:
    if not path:
        raise DSNError("SQLITE_PATH is empty")
    return DatabaseURL(URL.create("sqlite+aiosqlite", database=path), "sqlite")


def parse_dsn(dsn: str) -> DatabaseURL:
    dsn = dsn.strip()
    if not dsn:
        raise DSNError(f"empty DSN; {_HELP}")
    if "://" in dsn and not _looks_like_go_mysql(dsn):
        return _from_url(dsn)
    return _from_go_mysql(dsn)


def _looks_like_go_mysql(dsn: str) -> bool:
    # A password may contain "://"; the Go form always has "@tcp(" or "@unix(".
    return bool(re.search(r"@(tcp|unix)\(", dsn)) and not re.match(r"^[a-z0-9+]+://", dsn)


def _from_url(dsn: str) -> DatabaseURL:
    try:
        url = make_url(dsn)
    except ArgumentError:
        raise DSNError(f"not a valid URL; {_HELP}") from None
    except ValueError:  # make_url's int() of a non-numeric port
        raise DSNError(f"bad port in the URL; {_HELP}") from None
    _check_port(url.port)
    backend = url.get_backend_name()
    kind = _BACKENDS.get(backend)
    if kind is None:
        raise DSNError(f"unsupported database {backend!r}; use SQLite, MySQL or PostgreSQL")
    url = url.set(drivername=_ASYNC_DRIVERS[kind])
    if kind == "sqlite":
        if not url.database:
            raise DSNError("SQLite URL needs a file path, e.g. sqlite:///one-api.db")
        return DatabaseURL(url, kind)
    if not url.database:
        raise DSNError(f"no database name in the DSN; {_HELP}")
    if kind == "postgresql":
        query = {k: v for k, v in url.query.items() if k in _PG_KEEP}
        if "sslmode" in query:
            query.setdefault("ssl", query.pop("sslmode"))
        url = url.set(query=query)
    else:
        query = {k: v for k, v in url.query.items() if k in _MYSQL_KEEP}
        query.setdefault("charset", "utf8mb4")
        url = url.set(query=query)
    return DatabaseURL(url, kind)


def _check_port(port: int | None) -> None:
    if port is not None and not 0 < port < 65536:
        raise DSNError(f"bad port {port} (must be 1-65535)")


def _from_go_mysql(dsn: str) -> DatabaseURL:
    # The database name cannot contain '/', so split on the last one as Go does;
    # the user part ends at the last '@' before it (passwords may hold '@').
    slash = dsn.rfind("/")
    if slash < 0:
        raise DSNError(f"not a recognised DSN; {_HELP}")
    head, tail = dsn[:slash], dsn[slash:]
    at = head.rfind("@")
    creds, netaddr = (head[:at], head[at + 1:]) if at >= 0 else (None, head)
    m = _GO_MYSQL.match(("" if creds is None else creds + "@") + netaddr + tail)
    if m is None:
        raise DSNError(f"not a recognised DSN; {_HELP}")
    net = m.group("net") or "tcp"
    addr = m.group("addr") or ""
    if net not in ("tcp", "unix"):
        raise DSNError(f"unsupported MySQL network {net!r} (use tcp or unix)")
    if not m.group("db"):
        raise DSNError("no database name in the DSN (…/dbname)")
    user = creds.split(":", 1)[0] if creds else None
    password = creds.split(":", 1)[1] if creds and ":" in creds else None
    params = dict(parse_qsl(m.group("params") or "", keep_blank_values=True))
    query = {"charset": params.get("charset", "utf8mb4").split(",")[0]}
    host: str | None = None
    port: int | None = None
    if net == "unix":
        query["unix_socket"] = addr or "/tmp/mysql.sock"  # noqa: S108 - the Go driver's default
    else:
        addr = addr or "127.0.0.1:3306"
        if ":" in addr:
            host_s, _, port_s = addr.rpartition(":")
        else:
            host_s, port_s = addr, "3306"
        host = host_s.strip("[]") or "127.0.0.1"
        try:
            port = int(port_s)
        except ValueError:
            raise DSNError(f"bad port {port_s!r} in the MySQL address") from None
        _check_port(port)
    url = URL.create(
        "mysql+aiomysql",
        username=unquote(user) if user else None,
        password=password,
        host=host,
        port=port,
        database=m.group("db"),
        query=query,
    )
    return DatabaseURL(url, "mysql")
