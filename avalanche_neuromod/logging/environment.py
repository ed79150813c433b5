"""Where a W&B run goes, and what it may never carry: mode, credentials, config hygiene.

Credentials are only *detected* here (an API key in the environment or a netrc entry for a
W&B host), never read into a run: :func:`sanitize_config` drops secret-looking keys and any
string holding a configured key before anything is logged.
"""

from __future__ import annotations

import netrc
import os
import re
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_SECRET_KEY = re.compile(r"api[_\-]?key|token|secret|password", re.IGNORECASE)
_REDACTED = "<redacted>"
_VALID_MODES = ("online", "offline", "disabled", "shared")
_MODE_ALIASES = {"dryrun": "offline", "run": "online"}
_DEFAULT_API_HOSTS = ("api.wandb.ai", "api.forge.coreweave.com")
_ID_CHARS = string.ascii_lowercase + string.digits


# ----------------------------------------------------------------------------------------
# Credentials, mode and config helpers
# ----------------------------------------------------------------------------------------
def _netrc_path() -> Path:
    if os.environ.get("NETRC"):
        return Path(os.environ["NETRC"]).expanduser()
    unix = Path("~/.netrc").expanduser()
    windows = Path("~/_netrc").expanduser()
    if not unix.exists() and windows.exists():
        return windows
    return unix


def _api_hosts() -> list[str]:
    hosts = list(_DEFAULT_API_HOSTS)
    base_url = os.environ.get("WANDB_BASE_URL")
    if base_url:
        netloc = urlsplit(base_url).netloc
        if netloc:
            hosts.insert(0, netloc)
    return hosts


def _netrc_api_key() -> str | None:
    """API key stored in the netrc file for a W&B host, or None."""
    path = _netrc_path()
    if not path.is_file():
        return None
    try:
        parsed = netrc.netrc(str(path))
    except (netrc.NetrcParseError, OSError):
        return None
    for host in _api_hosts():
        creds = parsed.authenticators(host)
        if creds and creds[2]:
            return creds[2]
    return None


def _known_secrets() -> list[str]:
    """Secret values configured in this process (used to redact them anywhere)."""
    values = [os.environ.get("WANDB_API_KEY"), _netrc_api_key()]
    return [v for v in values if v and len(v) >= 4]


def has_api_key() -> bool:
    """Whether W&B credentials are configured.

    Credentials are configured when ``WANDB_API_KEY`` (or ``WANDB_IDENTITY_TOKEN_FILE``) is
    set, or when the netrc file (``$NETRC`` or ``~/.netrc``) holds a password for the W&B
    API host (``api.wandb.ai``, ``api.forge.coreweave.com`` or the host of
    ``WANDB_BASE_URL``).
    """
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    return _netrc_api_key() is not None


def resolve_mode(mode: str | None = None) -> str:
    """Resolve the wandb mode.

    :param mode: explicit mode (``"online"``, ``"offline"``, ``"disabled"`` or
        ``"shared"``), always respected. When None, ``WANDB_MODE`` is used if set,
        otherwise ``"online"`` if an API key is configured (see :func:`has_api_key`) and
        ``"offline"`` if not.
    :return: the resolved mode.
    """
    if mode is None:
        env_mode = os.environ.get("WANDB_MODE", "").strip().lower()
        env_mode = _MODE_ALIASES.get(env_mode, env_mode)
        if env_mode in _VALID_MODES:
            return env_mode
        if os.environ.get("WANDB_DISABLED", "").strip().lower() in ("true", "1", "yes"):
            return "disabled"
        return "online" if has_api_key() else "offline"
    mode = _MODE_ALIASES.get(str(mode).lower(), str(mode).lower())
    if mode not in _VALID_MODES:
        raise ValueError(f"Unknown wandb mode {mode!r}; expected one of {_VALID_MODES}.")
    return mode


def sanitize_config(obj: Any, secrets_: list[str] | None = None) -> Any:
    """Recursively drop secret-looking entries from a config-like object.

    Mapping keys that look like credentials (``*api_key*``, ``*apikey*``, ``*token*``,
    ``*secret*``, ``*password*``, case-insensitive) are removed, and any string containing
    a configured API key is replaced by ``"<redacted>"``.

    :param obj: a (nested) dict / list / tuple / scalar.
    :param secrets_: secret values to redact; default: the configured W&B API keys.
    :return: a sanitized copy.
    """
    if secrets_ is None:
        secrets_ = _known_secrets()
    if isinstance(obj, Mapping):
        return {
            k: sanitize_config(v, secrets_)
            for k, v in obj.items()
            if not (isinstance(k, str) and _SECRET_KEY.search(k))
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(sanitize_config(v, secrets_) for v in obj)
    if isinstance(obj, str) and any(s in obj for s in secrets_):
        return _REDACTED
    return obj


def package_versions() -> dict[str, str]:
    """Versions of the packages that matter for reproducing a run (the records' own keys)."""
    from ..runtime import versions

    return versions()


def _new_run_id(length: int = 8) -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(length))
