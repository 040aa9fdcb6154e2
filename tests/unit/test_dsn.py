"""SQL_DSN parsing: the reference's forms plus SQLAlchemy URLs, all onto async drivers."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from oneapi.db.dsn import DatabaseURL, DSNError, parse_dsn, sqlite_url


def parts(d: DatabaseURL) -> tuple[object, ...]:
    u = d.url
    return (d.kind, u.drivername, u.username, u.password, u.host, u.port, u.database,
            dict(u.query))


# --- PostgreSQL -------------------------------------------------------------------------


def test_reference_postgres_dsn() -> None:
    d = parse_dsn("postgres://oneapi:s3cret@db.example:5432/oneapi")
    assert parts(d) == ("postgresql", "postgresql+asyncpg", "oneapi", "s3cret", "db.example",
                        5432, "oneapi", {})
    assert not d.is_sqlite


def test_postgres_default_port_and_no_password() -> None:
    d = parse_dsn("postgres://postgres@localhost/oneapi")
    assert parts(d) == ("postgresql", "postgresql+asyncpg", "postgres", None, "localhost",
                        None, "oneapi", {})


@pytest.mark.parametrize("mode", ["disable", "require", "verify-full"])
def test_postgres_sslmode_becomes_asyncpg_ssl(mode: str) -> None:
    d = parse_dsn(f"postgresql://u:p@h:5433/db?sslmode={mode}&application_name=x")
    assert d.url.drivername == "postgresql+asyncpg"
    assert d.url.port == 5433
    # asyncpg takes libpq's sslmode values as `ssl`; unknown parameters are dropped.
    assert dict(d.url.query) == {"ssl": mode}


def test_postgres_explicit_ssl_kept() -> None:
    d = parse_dsn("postgresql+psycopg2://u:p@h/db?ssl=require")
    assert d.url.drivername == "postgresql+asyncpg"
    assert dict(d.url.query) == {"ssl": "require"}


def test_postgres_password_with_reserved_characters_round_trips() -> None:
    d = parse_dsn("postgres://u:p%40ss%3Aw%2Frd@h:5432/db")
    assert d.url.password == "p@ss:w/rd"
    assert make_url(d.render()).password == "p@ss:w/rd"


# --- Go MySQL DSNs ------------------------------------------------------------------------


def test_reference_mysql_dsn() -> None:
    d = parse_dsn("root:123456@tcp(localhost:3306)/oneapi?charset=utf8mb4")
    assert parts(d) == ("mysql", "mysql+aiomysql", "root", "123456", "localhost", 3306,
                        "oneapi", {"charset": "utf8mb4"})


def test_mysql_without_password() -> None:
    d = parse_dsn("root@tcp(db:3307)/oneapi")
    assert parts(d) == ("mysql", "mysql+aiomysql", "root", None, "db", 3307, "oneapi",
                        {"charset": "utf8mb4"})


def test_mysql_empty_password() -> None:
    d = parse_dsn("root:@tcp(db:3306)/oneapi")
    assert d.url.username == "root"
    assert not d.url.password


@pytest.mark.parametrize("password", ["p@ss:w@rd", "a://b", "pa/ss", "x(y)z", "@:@", "we!rd#%"])
def test_mysql_password_with_special_characters(password: str) -> None:
    d = parse_dsn(f"oneapi:{password}@tcp(10.0.0.5:3306)/oneapi?parseTime=true")
    assert d.kind == "mysql"
    assert (d.url.username, d.url.password, d.url.host, d.url.port, d.url.database) == (
        "oneapi", password, "10.0.0.5", 3306, "oneapi")
    # render() is what the engine is built from: it must keep the password intact.
    assert make_url(d.render()).password == password


@pytest.mark.parametrize(
    ("dsn", "host", "port"),
    [
        ("root:pw@tcp(dbhost)/oneapi", "dbhost", 3306),
        ("root:pw@tcp/oneapi", "127.0.0.1", 3306),
        ("root:pw@/oneapi", "127.0.0.1", 3306),
        ("root:pw@tcp([::1]:3307)/oneapi", "::1", 3307),
        ("root:pw@tcp(:3308)/oneapi", "127.0.0.1", 3308),
    ],
)
def test_mysql_default_host_and_port(dsn: str, host: str, port: int) -> None:
    d = parse_dsn(dsn)
    assert (d.kind, d.url.host, d.url.port, d.url.database) == ("mysql", host, port, "oneapi")


def test_mysql_without_credentials() -> None:
    d = parse_dsn("tcp(mysql.internal:3306)/oneapi")
    assert parts(d) == ("mysql", "mysql+aiomysql", None, None, "mysql.internal", 3306,
                        "oneapi", {"charset": "utf8mb4"})


def test_mysql_only_database() -> None:
    d = parse_dsn("/oneapi")
    assert parts(d) == ("mysql", "mysql+aiomysql", None, None, "127.0.0.1", 3306, "oneapi",
                        {"charset": "utf8mb4"})


def test_mysql_unix_socket() -> None:
    d = parse_dsn("oneapi:pw@unix(/var/run/mysqld/mysqld.sock)/oneapi?charset=utf8")
    assert d.kind == "mysql"
    assert (d.url.username, d.url.password, d.url.host, d.url.port) == ("oneapi", "pw", None,
                                                                         None)
    assert d.url.database == "oneapi"
    assert dict(d.url.query) == {"charset": "utf8",
                                 "unix_socket": "/var/run/mysqld/mysqld.sock"}
    assert make_url(d.render()).query["unix_socket"] == "/var/run/mysqld/mysqld.sock"


def test_mysql_unix_socket_default_path() -> None:
    d = parse_dsn("root@unix/oneapi")
    assert d.url.query["unix_socket"] == "/tmp/mysql.sock"


@pytest.mark.parametrize(
    ("params", "charset"),
    [("", "utf8mb4"), ("?charset=utf8", "utf8"), ("?charset=utf8mb4,utf8", "utf8mb4"),
     ("?parseTime=True&loc=Local&charset=latin1", "latin1")],
)
def test_mysql_charset(params: str, charset: str) -> None:
    d = parse_dsn(f"root:pw@tcp(h:3306)/oneapi{params}")
    assert d.url.query["charset"] == charset


def test_mysql_go_only_params_are_ignored() -> None:
    d = parse_dsn("root:pw@tcp(h:3306)/oneapi?parseTime=True&loc=Local&timeout=5s"
                  "&readTimeout=3s&collation=utf8mb4_general_ci&loc=Asia%2FShanghai")
    assert dict(d.url.query) == {"charset": "utf8mb4"}
    assert d.url.database == "oneapi"


def test_mysql_unescaped_slash_in_params() -> None:
    d = parse_dsn("root:pw@tcp(h:3306)/oneapi?charset=utf8mb4&loc=Asia/Shanghai")
    assert (d.url.host, d.url.database, dict(d.url.query)) == ("h", "oneapi",
                                                               {"charset": "utf8mb4"})


# --- SQLAlchemy URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "driver"),
    [
        ("mysql://u:p@h:3306/db", "mysql", "mysql+aiomysql"),
        ("mysql+pymysql://u:p@h/db", "mysql", "mysql+aiomysql"),
        ("mysql+aiomysql://u:p@h/db", "mysql", "mysql+aiomysql"),
        ("mariadb://u:p@h/db", "mysql", "mysql+aiomysql"),
        ("postgresql://u:p@h/db", "postgresql", "postgresql+asyncpg"),
        ("postgresql+psycopg://u:p@h/db", "postgresql", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql", "postgresql+asyncpg"),
        ("sqlite:///one-api.db", "sqlite", "sqlite+aiosqlite"),
        ("sqlite+pysqlite:////data/one-api.db", "sqlite", "sqlite+aiosqlite"),
    ],
)
def test_sqlalchemy_urls_use_async_drivers(url: str, kind: str, driver: str) -> None:
    d = parse_dsn(url)
    assert (d.kind, d.url.drivername) == (kind, driver)
    assert d.is_sqlite == (kind == "sqlite")


def test_sqlalchemy_mysql_url_details() -> None:
    d = parse_dsn("mysql://user:pw@db:3307/oneapi?ssl_ca=/x&charset=utf8")
    assert parts(d) == ("mysql", "mysql+aiomysql", "user", "pw", "db", 3307, "oneapi",
                        {"charset": "utf8"})
    assert dict(parse_dsn("mysql://user@db/oneapi").url.query) == {"charset": "utf8mb4"}


def test_sqlite_paths() -> None:
    assert parse_dsn("sqlite:///one-api.db").url.database == "one-api.db"
    assert parse_dsn("sqlite:////data/one-api.db").url.database == "/data/one-api.db"


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_dsn("  postgres://u@h/db \n").url.database == "db"


def test_sqlite_url_helper() -> None:
    d = sqlite_url("/data/one-api.db")
    assert (d.kind, d.url.drivername, d.url.database) == ("sqlite", "sqlite+aiosqlite",
                                                          "/data/one-api.db")
    with pytest.raises(DSNError):
        sqlite_url("")


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dsn", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not a dsn", "not a recognised DSN"),
        ("oracle://u:p@h:1521/db", "unsupported database 'oracle'"),
        ("mssql+pyodbc://u:p@h/db", "unsupported database 'mssql'"),
        ("http://example.com/db", "unsupported database 'http'"),
        ("postgres://u:p@h:5432/", "no database name"),
        ("postgres://u:p@h:5432", "no database name"),
        ("mysql://u:p@h", "no database name"),
        ("root:pw@tcp(h:3306)/", "no database name"),
        ("root:pw@tcp(h:3306)/?charset=utf8mb4", "no database name"),
        ("sqlite://", "file path"),
        ("root:pw@tcp(h:abc)/db", "bad port"),
        ("root:pw@tcp(h:)/db", "bad port"),
        ("root:pw@udp(h:3306)/db", "unsupported MySQL network 'udp'"),
    ],
)
def test_invalid_dsns(dsn: str, fragment: str) -> None:
    with pytest.raises(DSNError) as info:
        parse_dsn(dsn)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgres://u:p@h:abc/db",
        "mysql://u:p@h:x1/db",
        "postgres://u:p@h:99999/db",
        "root:pw@tcp(h:99999)/db",
        "root:pw@tcp(h:-1)/db",
    ],
)
def test_bad_ports_are_dsn_errors(dsn: str) -> None:
    # Must be a DSNError (not a bare ValueError) so settings can name SQL_DSN.
    with pytest.raises(DSNError, match="port"):
        parse_dsn(dsn)


# --- masking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dsn",
    [
        "postgres://oneapi:TopSecret1@h:5432/db",
        "root:TopSecret1@tcp(localhost:3306)/oneapi?charset=utf8mb4",
        "mysql://root:TopSecret1@h/db",
    ],
)
def test_safe_masks_the_password(dsn: str) -> None:
    d = parse_dsn(dsn)
    assert "TopSecret1" not in d.safe()
    assert "***" in d.safe()
    assert "TopSecret1" in d.render()
    assert "TopSecret1" not in repr(d.safe())


def test_safe_without_password_is_the_url() -> None:
    d = parse_dsn("postgres://postgres@localhost:5432/oneapi")
    assert d.safe() == "postgresql+asyncpg://postgres@localhost:5432/oneapi"
