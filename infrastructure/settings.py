"""Service settings from ``PQASSO_*`` environment variables, and PostgreSQL URL helpers.

``Settings.from_environ()`` is the only place that reads the environment; everything
else receives a ``Settings`` (or a URL) explicitly, which keeps tests free of
``monkeypatch.setenv``.  ``eventsourcing_env()`` translates a URL into the
``POSTGRES_*`` mapping the eventsourcing library reads; pass it as the ``env=``
argument of an ``Application`` so it beats stray ``os.environ`` values.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError

DEFAULT_PORT = 5432
_SCHEMES = ("postgresql", "postgres")
# Only what eventsourcing can pass on. Anything else (sslmode, options...) would be
# silently dropped on the way to the library, so we refuse it instead; libpq still
# honours PGSSLMODE etc. from the process environment.
_QUERY_KEYS = frozenset({"host", "port", "user", "password", "dbname"})


class SettingsError(ValueError):
    """A ``PQASSO_*`` variable holds an invalid value; the message names the variable."""


@dataclass(frozen=True)
class PostgresUrl:
    """The decoded parts of a ``postgresql://`` URL that the eventsourcing library needs.

    ``host`` is either a host name / IP address or an absolute unix-socket directory.
    """

    user: str
    password: str | None
    host: str
    port: int
    dbname: str


def _query_params(query: str) -> dict[str, str]:
    # Not parse_qs: it turns "+" into a space, libpq does not (socket paths may contain "+").
    params: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        key = unquote(key)
        if key in params:
            raise ValueError(f"query parameter {key!r} is given twice")
        params[key] = unquote(value)
    return params


def parse_database_url(url: str) -> PostgresUrl:
    """Parse and validate a PostgreSQL URL; raise ``ValueError`` saying what is wrong.

    Accepts ``postgresql://`` and ``postgres://``, percent-encoded user and password,
    ``[ipv6]`` hosts, and a unix-socket directory as ``?host=/path`` or as a
    percent-encoded host (``postgresql://%2Fvar%2Frun%2Fpostgresql/db``).
    """
    try:
        parts = urlsplit(url.strip())
        netloc_port = parts.port  # raises ValueError for non-numeric / out-of-range ports
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in _SCHEMES:
        raise ValueError("must start with postgresql:// or postgres://")
    if "," in parts.netloc:
        raise ValueError("lists several hosts; only one host is supported")
    params = _query_params(parts.query)
    unknown = sorted(set(params) - _QUERY_KEYS)
    if unknown:
        raise ValueError(
            f"has unsupported query parameter(s) {', '.join(unknown)}; only host, port, "
            "user, password and dbname are passed on (set other libpq options such as "
            "PGSSLMODE as environment variables)"
        )

    userinfo, _, hostport = parts.netloc.rpartition("@")
    # Take the host from the raw netloc: urlsplit().hostname lower-cases it, which
    # would corrupt a percent-encoded socket path.
    if hostport.startswith("["):  # [ipv6]:port
        raw_host = hostport[1 : hostport.find("]")]
    else:
        raw_host = hostport.partition(":")[0]
    raw_user, has_password, raw_password = userinfo.partition(":")

    host = params.get("host") or unquote(raw_host)
    user = params.get("user") or unquote(raw_user)
    password = params.get("password", unquote(raw_password) if has_password else None)
    dbname = params.get("dbname") or unquote(parts.path[1:])
    port_text = params.get("port")
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"has an invalid port {port_text!r}")
        port = int(port_text)
    else:
        port = netloc_port or DEFAULT_PORT

    # Be explicit rather than inherit libpq's defaults (OS user name, /var/run socket):
    # those differ between a laptop, CI-as-root and a container.
    if not host:
        raise ValueError("names no host (use postgresql://user@host:port/db or ?host=/socket/dir)")
    if not user:
        raise ValueError("names no user (use postgresql://user:password@host:port/db)")
    if not dbname:
        raise ValueError("names no database (add /dbname after the host)")
    return PostgresUrl(user=user, password=password, host=host, port=port, dbname=dbname)


def _validate_url(url: str) -> str:
    parse_database_url(url)
    return url.strip()


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}


def _validate_log_level(level: str) -> str:
    name = level.strip().upper()
    name = _LOG_LEVEL_ALIASES.get(name, name)
    if name not in _LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
    return name


def _validate_cipher_key(key: SecretStr) -> SecretStr:
    text = key.get_secret_value().strip()
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ValueError("must be base64 (e.g. from `python -c \"import base64, os; "
                         "print(base64.b64encode(os.urandom(32)).decode())\"`)") from None
    if len(raw) not in (16, 24, 32):
        raise ValueError(f"must decode to 16, 24 or 32 bytes, not {len(raw)}")
    return SecretStr(text)


DatabaseUrl = Annotated[str, AfterValidator(_validate_url)]
CipherKey = Annotated[SecretStr, AfterValidator(_validate_cipher_key)]
LogLevel = Annotated[str, AfterValidator(_validate_log_level)]


class Settings(BaseModel, frozen=True):
    """Runtime configuration of the service, read from ``PQASSO_*`` environment variables.

    Field aliases are the variable names, so validation errors name the variable.
    Fields may also be given by name in code: ``Settings(data_dir=tmp_path)``.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    database_url: DatabaseUrl | None = Field(default=None, alias="PQASSO_DATABASE_URL")
    data_dir: Path = Field(default=Path(".data"), alias="PQASSO_DATA_DIR")
    log_format: Literal["console", "json"] = Field(default="console", alias="PQASSO_LOG_FORMAT")
    log_level: LogLevel = Field(default="INFO", alias="PQASSO_LOG_LEVEL")
    pool_size: int = Field(default=5, ge=1, alias="PQASSO_POOL_SIZE")
    pool_max_overflow: int = Field(default=10, ge=0, alias="PQASSO_POOL_MAX_OVERFLOW")
    # Whole seconds: eventsourcing parses POSTGRES_LOCK_TIMEOUT with int(); 0 waits for ever;
    # PostgreSQL's lock_timeout holds at most 2,147,483,647 ms.
    lock_timeout: int = Field(default=5, ge=0, le=2_147_483, alias="PQASSO_LOCK_TIMEOUT")
    # Browsers keep Secure cookies over plain http only on localhost: turn this off to sign in
    # to the pages over plain http from another machine (better: put TLS in front).
    secure_cookies: bool = Field(default=True, alias="PQASSO_SECURE_COOKIES")
    # Seconds a request waits for a database connection (the pool's checkout timeout) before
    # it is answered 503; also how long a request caught by an outage waits, per attempt.
    database_timeout: int = Field(default=5, ge=1, le=60, alias="PQASSO_DATABASE_TIMEOUT")
    # Processes `pqasso serve` answers with (one core each at most: Python's GIL); they share
    # the port, the database and the pages' sessions. `pqasso serve --workers N` overrides it.
    workers: int = Field(default=1, ge=1, le=64, alias="PQASSO_WORKERS")
    # Seconds `pqasso serve` trusts a live API token it has looked up before looking it up
    # again; a revocation made elsewhere takes effect within this time. 0: every request.
    token_cache_seconds: float = Field(default=2.0, ge=0, le=60, alias="PQASSO_TOKEN_CACHE_SECONDS")
    # Requests one keep-alive connection may carry before the client is asked to reconnect
    # (`Connection: close`), as nginx's keepalive_requests; 0: no limit. (With several
    # workers, one holding more than its share of the connections also asks clients to
    # reconnect: infrastructure/http/middleware.py, KeepAliveLimit.)
    keepalive_requests: int = Field(default=1000, ge=0, le=1_000_000, alias="PQASSO_KEEPALIVE_REQUESTS")
    # Encrypt stored events (AES-GCM, the eventsourcing library's cipher): base64 of a 16, 24
    # or 32-byte key. Never logged or echoed. See docs/reliability.md, "Personal data".
    cipher_key: CipherKey | None = Field(default=None, alias="PQASSO_CIPHER_KEY", repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Build settings from ``environ``; raise ``SettingsError`` naming bad variables."""
        aliases = [field.alias for field in cls.model_fields.values() if field.alias]
        # Empty values count as unset (docker-compose's "PQASSO_DATABASE_URL=" idiom).
        raw = {name: value for name in aliases if (value := environ.get(name, "").strip())}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            # Re-raise without the pydantic error chained: its text echoes the input,
            # which for PQASSO_DATABASE_URL would put the password in the logs.
            raise SettingsError(_describe(exc)) from None

    @property
    def embedded_data_dir(self) -> Path:
        """Where the embedded PostgreSQL server keeps its files."""
        return self.data_dir / "postgres"

    def eventsourcing_env(self, database_url: str) -> dict[str, str]:
        """``eventsourcing_env()`` with this configuration's pool and lock settings."""
        return eventsourcing_env(
            database_url,
            pool_size=self.pool_size,
            max_overflow=self.pool_max_overflow,
            lock_timeout=self.lock_timeout,
            connect_timeout=self.database_timeout,
            cipher_key=self.cipher_key.get_secret_value() if self.cipher_key else None,
        )


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        message = error["msg"].removeprefix("Value error, ")
        shown = redact(str(error["input"])) if name == "PQASSO_DATABASE_URL" else error["input"]
        if name == "PQASSO_CIPHER_KEY":
            shown = "***"  # a key, even a malformed one, is never echoed
        problems.append(f"{name}: {message} (got {shown!r})")
    return "invalid configuration: " + "; ".join(problems)


def eventsourcing_env(
    database_url: str, *, pool_size: int = 5, max_overflow: int = 10, lock_timeout: int = 5,
    connect_timeout: int = 5, cipher_key: str | None = None,
) -> dict[str, str]:
    """Return the eventsourcing library's persistence settings for ``database_url``."""
    url = parse_database_url(database_url)
    cipher = {} if cipher_key is None else {
        # AES-GCM over each stored event's state (eventsourcing's cipher; needs pycryptodome).
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": cipher_key,
    }
    return {
        **cipher,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.dbname,
        "POSTGRES_HOST": url.host,
        "POSTGRES_PORT": str(url.port),
        "POSTGRES_USER": url.user,
        # The library raises if the key is missing, even for trust/peer auth.
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(max_overflow),
        "POSTGRES_LOCK_TIMEOUT": str(lock_timeout),
        # The library's default is 30 s (it is the pool checkout timeout): fail faster.
        "POSTGRES_CONNECT_TIMEOUT": str(connect_timeout),
        # Check pooled connections before use so a restarted server is not an error.
        "POSTGRES_PRE_PING": "y",
    }


_USERINFO_PASSWORD = re.compile(r"(?<=://)([^:/?#@]*):[^/?#]*@")


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for logs and errors."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO_PASSWORD.sub(r"\1:***@", url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = "&".join(
        "password=***" if item.partition("=")[0] == "password" else item
        for item in parts.query.split("&")
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def replace_dbname(url: str, dbname: str) -> str:
    """Return ``url`` pointing at database ``dbname`` on the same server."""
    parts = urlsplit(url)
    items = [item for item in parts.query.split("&") if item.partition("=")[0] != "dbname"]
    query = "&".join(filter(None, items))
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe=""), query=query))
