"""Image and document sources: URLs the upstream may fetch, base64 it can decode (translate.sources)."""

from __future__ import annotations

import base64
import time

import pytest

from streaming.errors import InvalidRequestError
from streaming.translate.sources import base64_data, public_url, url_problem, whatwg_ipv4

NOT_PUBLIC = "is not a public address (loopback, private, link-local or reserved)"
LOCAL_NAME = "is a local name, not a public domain"

PUBLIC_URLS = [
    "https://example.com/cat.png",
    "http://example.com/cat.png",
    "HTTPS://EXAMPLE.COM/Cat.png",
    "https://example.com:8443/a.pdf?x=1#page=2",
    "https://example.com./trailing-dot",
    "https://cdn_1.example.com/underscore-label",
    "http://1.1.1.1/",
    "http://16843009/",  # 1.1.1.1 written as one number: public all the same
    "http://[2606:4700::1111]/",
    "http://[2002:101:101::]/",  # 6to4 around the public 1.1.1.1
    "https://例え.jp/",
    "https://xn--r8jz45g.jp/",
    "https://example.test/a.jpg",  # reserved for testing, but not a local name: the upstream's problem
]


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_http_urls_pass_unchanged(url: str) -> None:
    assert public_url(url, "source.url") == url


REFUSED_URLS = [
    # not http(s)
    ("file:///etc/passwd", "URL scheme 'file' is not allowed; only http and https URLs can be fetched"),
    ("gopher://example.com:70/_x", "URL scheme 'gopher' is not allowed; only http and https URLs can be fetched"),
    ("ftp://example.com/a.png", "URL scheme 'ftp' is not allowed; only http and https URLs can be fetched"),
    ("javascript:alert(1)", "URL scheme 'javascript' is not allowed; only http and https URLs can be fetched"),
    ("data:image/png;base64,AA==", "data: URLs are not accepted here; send the bytes as a 'base64' source"),
    ("//example.com/a.png", "URL must be absolute, with an http or https scheme"),
    ("example.com/a.png", "URL must be absolute, with an http or https scheme"),
    # no host, or one no parser agrees on
    ("http:///etc/passwd", "URL has no host"),
    ("http://", "URL has no host"),
    ("http:\\\\127.0.0.1\\a", "URL has no host"),
    ("http://example.com:99999/", "Input should be a valid URL"),
    ("http://example.com:port/", "Input should be a valid URL"),
    ("http://[127.0.0.1]/", "Input should be a valid URL"),
    ("http://exa mple.com/", "URL must not contain spaces or control characters (percent-encode them)"),
    ("http://example.com/a b.png", "URL must not contain spaces or control characters (percent-encode them)"),
    ("http://127.0.0.1\t.example.com/", "URL must not contain spaces or control characters (percent-encode them)"),
    ("http://example.com\n/", "URL must not contain spaces or control characters (percent-encode them)"),
    # user info
    ("http://good@127.0.0.1/", "URL must not contain a user name or password"),
    ("http://user:pass@example.com/", "URL must not contain a user name or password"),
    ("http://example.com\\@127.0.0.1/", "URL must not contain a user name or password"),
    # IP literals outside the public internet
    ("http://127.0.0.1/", f"URL host '127.0.0.1' {NOT_PUBLIC}"),
    ("http://127.8.9.10:8080/", f"URL host '127.8.9.10' {NOT_PUBLIC}"),
    ("http://169.254.169.254/latest/meta-data/", f"URL host '169.254.169.254' {NOT_PUBLIC}"),
    ("http://10.1.2.3/", f"URL host '10.1.2.3' {NOT_PUBLIC}"),
    ("http://172.16.0.1/", f"URL host '172.16.0.1' {NOT_PUBLIC}"),
    ("http://192.168.0.1/", f"URL host '192.168.0.1' {NOT_PUBLIC}"),
    ("http://100.64.0.1/", f"URL host '100.64.0.1' {NOT_PUBLIC}"),
    ("http://0.0.0.0/", f"URL host '0.0.0.0' {NOT_PUBLIC}"),
    ("http://224.0.0.1/", f"URL host '224.0.0.1' {NOT_PUBLIC}"),
    ("http://240.0.0.1/", f"URL host '240.0.0.1' {NOT_PUBLIC}"),
    ("http://255.255.255.255/", f"URL host '255.255.255.255' {NOT_PUBLIC}"),
    ("http://127.0.0.1./", f"URL host '127.0.0.1.' {NOT_PUBLIC}"),
    ("http://[::1]/", f"URL host [::1] {NOT_PUBLIC}"),
    ("http://[::]/", f"URL host [::] {NOT_PUBLIC}"),
    ("http://[fe80::1]/", f"URL host [fe80::1] {NOT_PUBLIC}"),
    ("http://[fc00::1]/", f"URL host [fc00::1] {NOT_PUBLIC}"),
    ("http://[fec0::1]/", f"URL host [fec0::1] {NOT_PUBLIC}"),
    ("http://[ff02::1]/", f"URL host [ff02::1] {NOT_PUBLIC}"),
    ("http://[fd00:ec2::254]/", f"URL host [fd00:ec2::254] {NOT_PUBLIC}"),
    ("http://[::ffff:127.0.0.1]/", f"URL host [::ffff:127.0.0.1] {NOT_PUBLIC}"),
    ("http://[::ffff:a9fe:a9fe]/", f"URL host [::ffff:a9fe:a9fe] {NOT_PUBLIC}"),
    ("http://[::127.0.0.1]/", f"URL host [::127.0.0.1] {NOT_PUBLIC}"),
    ("http://[2002:7f00:1::]/", f"URL host [2002:7f00:1::] {NOT_PUBLIC}"),
    ("http://[64:ff9b::a9fe:a9fe]/", f"URL host [64:ff9b::a9fe:a9fe] {NOT_PUBLIC}"),
    ("http://[fe80::1%25eth0]/", "URL host [fe80::1%25eth0] must not carry a zone id"),
    ("http://[v1.abc]/", "URL host [v1.abc] is not a valid IPv6 address"),
    # IPv4 as WHATWG URL parsers (browsers, Node's URL, many fetchers) still read it
    ("http://2130706433/", f"URL host '2130706433' {NOT_PUBLIC}"),
    ("http://0x7f.1/", f"URL host '0x7f.1' {NOT_PUBLIC}"),
    ("http://0x7f000001/", f"URL host '0x7f000001' {NOT_PUBLIC}"),
    ("http://0177.0.0.1/", f"URL host '0177.0.0.1' {NOT_PUBLIC}"),
    ("http://017700000001/", f"URL host '017700000001' {NOT_PUBLIC}"),
    ("http://127.1/", f"URL host '127.1' {NOT_PUBLIC}"),
    ("http://10.1/", f"URL host '10.1' {NOT_PUBLIC}"),
    ("http://0/", f"URL host '0' {NOT_PUBLIC}"),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", f"URL host '127.0.0.1' {NOT_PUBLIC}"),  # fullwidth
    ("http://999.1.1.1/", "URL host '999.1.1.1' is not a valid IPv4 address"),
    ("http://1.2.3.4.5/", "URL host '1.2.3.4.5' is not a valid IPv4 address"),
    ("http://08.0.0.1/", "URL host '08.0.0.1' is not a valid IPv4 address"),
    ("http://intranet.10/", "URL host 'intranet.10' is not a valid IPv4 address"),
    ("http://%31%32%37.0.0.1/", "URL host '%31%32%37.0.0.1' is not a valid IPv4 address"),
    # names that only resolve inside a network
    ("http://localhost/", f"URL host 'localhost' {LOCAL_NAME}"),
    ("http://LOCALHOST:8000/", f"URL host 'localhost' {LOCAL_NAME}"),
    ("http://localhost./", f"URL host 'localhost.' {LOCAL_NAME}"),
    ("http://api.localhost/", f"URL host 'api.localhost' {LOCAL_NAME}"),
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", f"URL host 'localhost' {LOCAL_NAME}"),  # fullwidth
    ("http://localhost.localdomain/", f"URL host 'localhost.localdomain' {LOCAL_NAME}"),
    ("http://printer.local/", f"URL host 'printer.local' {LOCAL_NAME}"),
    ("http://metadata.google.internal/", f"URL host 'metadata.google.internal' {LOCAL_NAME}"),
    ("http://nas.home.arpa/", f"URL host 'nas.home.arpa' {LOCAL_NAME}"),
    ("http://intranet/", f"URL host 'intranet' {LOCAL_NAME}"),
    ("http://metadata/computeMetadata/v1/", f"URL host 'metadata' {LOCAL_NAME}"),
    # not a host name at all
    ("http://a..b/", "URL host 'a..b' is not a valid domain name"),
    ("http://-a.example.com/", "URL host '-a.example.com' is not a valid domain name"),
    ("http://%6cocalhost/", "URL host '%6cocalhost' is not a valid domain name"),
    ("http://" + "a" * 64 + ".com/", f"URL host '{'a' * 64}.com' is not a valid domain name"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "problem"), REFUSED_URLS)
def test_urls_the_upstream_must_not_fetch_are_refused_saying_why(url: str, problem: str) -> None:
    assert url_problem(url) == problem


def test_a_refused_url_is_a_400_at_its_path() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        public_url("http://169.254.169.254/", "messages.0.content.1.source.url")

    assert caught.value.message == f"messages.0.content.1.source.url: URL host '169.254.169.254' {NOT_PUBLIC}"


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.1", "127.0.0.1"),
        ("0300.0250.1", "192.168.0.1"),
        ("3232235521", "192.168.0.1"),
        ("192.11010049", "192.168.0.1"),
        ("0x", "0.0.0.0"),  # noqa: S104 (an address read, not one bound)
        ("4294967295", "255.255.255.255"),
    ],
)
def test_ipv4_is_read_like_a_whatwg_url_parser(host: str, address: str) -> None:
    assert str(whatwg_ipv4(host)) == address


@pytest.mark.parametrize(
    "host", ["4294967296", "1.2.3.256", "256.1.1.1", "1.2.3.4.5", "09.1.1.1", "1..1", "0xg"]
)
def test_what_a_whatwg_parser_fails_is_not_an_address(host: str) -> None:
    assert whatwg_ipv4(host) is None


VALID_BASE64 = [
    ("AA==", "AA=="),
    ("AAA=", "AAA="),
    ("QUJD", "QUJD"),
    ("iVBORw0KGgo+/w==", "iVBORw0KGgo+/w=="),
    # MIME-wrapped output (``base64`` without -w0, ``base64.encodebytes``) loses its whitespace
    ("QUJD\nQUJD\n", "QUJDQUJD"),
    ("QUJD\r\nQUJD", "QUJDQUJD"),
    (" QUJD QU\tJD ", "QUJDQUJD"),
    ("QQ\n==", "QQ=="),
]


@pytest.mark.parametrize(("data", "sent"), VALID_BASE64)
def test_standard_base64_is_accepted_and_whitespace_removed(data: str, sent: str) -> None:
    assert base64_data(data, "source.data") == sent


INVALID_BASE64 = [
    ("AA", "length 2 is not a multiple of 4 (missing '=' padding?)"),
    ("QUJDQ", "length 5 is not a multiple of 4 (missing '=' padding?)"),
    ("A===", "at most two '=' may pad the data"),
    ("AA=A", "'=' padding may only end the data"),
    ("=AAA", "'=' padding may only end the data"),
    ("AA==AA==", "'=' padding may only end the data"),
    ("QUJD!UJD", "character '!' at position 4 is not in the base64 alphabet"),
    ("QU\nJ\x00", "character '\\x00' at position 4 is not in the base64 alphabet"),
    ("QUJé", "character 'é' at position 3 is not in the base64 alphabet"),
    ("a-b_", "URL-safe base64 ('-' and '_') is not accepted; use the standard alphabet ('+' and '/')"),
    ("data:image/png;base64,AA==", "send the base64 text alone, without the 'data:...;base64,' prefix"),
    (" \n ", "only whitespace"),
]


@pytest.mark.parametrize(("data", "problem"), INVALID_BASE64)
def test_invalid_base64_is_a_400_naming_the_field_and_the_problem(data: str, problem: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        base64_data(data, "messages.0.content.0.source.data")

    assert caught.value.message == f"messages.0.content.0.source.data: Invalid base64 data: {problem}"


def test_empty_base64_is_a_missing_string() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        base64_data("", "source.data")

    assert caught.value.message == "source.data: String should have at least 1 character"


def test_a_large_payload_is_checked_in_one_pass_without_a_copy() -> None:
    """30 MB of base64 costs about what parsing the JSON around it did, and comes back as the same object."""
    data = base64.b64encode(bytes(22_500_000)).decode()
    started = time.perf_counter()

    checked = base64_data(data, "source.data")

    assert checked is data
    assert time.perf_counter() - started < 1.0
