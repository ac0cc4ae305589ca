"""What an image or document ``source`` hands the upstream: a URL it will fetch, or base64 it will decode.

**URLs** (``source.url``) are fetched by the upstream, never by the gateway, so the check is on the name
alone (no DNS lookup): ``http``/``https`` only; no user name or password; a host that is a public DNS name
or a public IP address. Refused: IP literals in loopback, private, link-local, shared, reserved,
multicast or unspecified ranges (IPv4-mapped, IPv4-compatible, 6to4 and NAT64 IPv6 forms by the IPv4
address inside them), IPv4 written the way WHATWG URL parsers still read it (``2130706433``,
``0x7f.1``, ``0177.0.0.1``), ``localhost`` and ``*.localhost`` (RFC 6761), ``*.local`` (mDNS),
``*.internal`` and ``*.home.arpa`` (private-use names), single-label names (``http://intranet/``: only
a search domain can resolve them), and any character a host cannot hold (percent escapes, backslashes,
zone ids). A public name that resolves to a private address (``127.0.0.1.nip.io``, DNS rebinding) is not
caught here: only the fetcher that resolves the name can see that (docs/mapping.md §2).

**Base64** (``source.data``): RFC 4648's standard alphabet with ``=`` padding, checked in one pass
without decoding. Line breaks and spaces (MIME-wrapped output of ``base64`` or ``encodebytes``) are
removed rather than refused; anything else is a 400 saying what is wrong and where.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from streaming.translate.fields import expect_str, invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

URL_SCHEMES = ("https", "http")
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")
_WHATWG_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")

_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/= \t\n\r\f\v]")
_NOT_PUBLIC = "is not a public address (loopback, private, link-local or reserved)"


def public_url(value: object, path: str) -> str:
    """A URL the upstream may fetch, unchanged, or a 400 at ``path`` saying why it may not."""
    url = expect_str(value, path, non_empty=True)
    if problem := url_problem(url):
        raise invalid(path, problem)
    return url


def url_problem(url: str) -> str | None:
    """Why the upstream must not be asked to fetch ``url``, or None."""
    if _UNSAFE_IN_URL.search(url):
        # urllib drops tabs and newlines that other parsers keep: refuse what two parsers could read apart.
        return "URL must not contain spaces or control characters (percent-encode them)"
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number in 0-65535 raises
    except ValueError:
        return "Input should be a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        if scheme == "data":
            return "data: URLs are not accepted here; send the bytes as a 'base64' source"
        if not scheme:
            return "URL must be absolute, with an http or https scheme"
        return f"URL scheme '{scheme}' is not allowed; only http and https URLs can be fetched"
    if "@" in parts.netloc:
        return "URL must not contain a user name or password"
    host = parts.hostname or ""
    if not host:
        return "URL has no host"
    return _host_problem(host, bracketed=parts.netloc.startswith("["))


def _host_problem(host: str, *, bracketed: bool) -> str | None:
    if bracketed:
        if "%" in host:
            return f"URL host [{host}] must not carry a zone id"
        try:
            address: IPAddress = ipaddress.IPv6Address(host)
        except ValueError:
            return f"URL host [{host}] is not a valid IPv6 address"
        return f"URL host [{host}] {_NOT_PUBLIC}" if _non_public(address) else None
    if not host.isascii():
        try:
            # IDNA (nameprep) maps what WHATWG parsers map too: fullwidth digits and dots are plain ones.
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return f"URL host '{host}' is not a valid domain name"
    name = host.removesuffix(".")
    labels = name.split(".")
    if _WHATWG_NUMBER.fullmatch(labels[-1]):
        ipv4 = whatwg_ipv4(name)
        if ipv4 is None:
            return f"URL host '{host}' is not a valid IPv4 address"
        return f"URL host '{host}' {_NOT_PUBLIC}" if _non_public(ipv4) else None
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return f"URL host '{host}' is not a valid domain name"
    if len(labels) == 1 or name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES):
        return f"URL host '{host}' is a local name, not a public domain"
    return None


def whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a WHATWG URL parser reads from ``host`` (1-4 parts, each decimal, 0x-hex or 0-octal;
    the last fills the remaining bytes), or None where that parser fails the URL."""
    numbers = []
    for part in host.split("."):
        if not _WHATWG_NUMBER.fullmatch(part):
            return None
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                return None
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _non_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and _non_public(embedded):
            return True
        if address.is_site_local:
            return True
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64, the deprecated compatible form)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def base64_data(value: object, path: str) -> str:
    """Strict standard base64 (line breaks and spaces removed), or a 400 at ``path`` saying what is wrong."""
    data = expect_str(value, path, non_empty=True)
    if len(data) % 4 == 0 and _BASE64.fullmatch(data):
        return data  # the common case: one pass, nothing copied
    compact = _WHITESPACE.sub("", data)
    if compact and len(compact) % 4 == 0 and _BASE64.fullmatch(compact):
        return compact
    raise invalid(path, f"Invalid base64 data: {_base64_problem(data, compact)}")


def _base64_problem(data: str, compact: str) -> str:
    if not compact:
        return "only whitespace"
    if compact.startswith("data:"):
        return "send the base64 text alone, without the 'data:...;base64,' prefix"
    if bad := _NOT_BASE64.search(data):
        char = bad.group()
        if char in "-_":
            return "URL-safe base64 ('-' and '_') is not accepted; use the standard alphabet ('+' and '/')"
        return f"character {char!r} at position {bad.start()} is not in the base64 alphabet"
    if "=" in compact.rstrip("="):
        return "'=' padding may only end the data"
    if compact.endswith("==="):
        return "at most two '=' may pad the data"
    return f"length {len(compact)} is not a multiple of 4 (missing '=' padding?)"
