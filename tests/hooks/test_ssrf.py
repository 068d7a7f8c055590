"""SECURITY.md T11: webhook targets inside the network are refused, metadata always; names resolve inside the guard."""

from __future__ import annotations

import ipaddress

import pytest

from basalt.hooks import ssrf

INSIDE = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f000001/",  # hex
    "http://0177.0.0.1/",  # octal
    "http://localhost:8080/x",
    "http://10.0.0.5/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://169.254.1.1/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",  # carrier-grade NAT
]
METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[fd00:ec2::254]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form
    "http://2852039166/",  # decimal 169.254.169.254
    "http://100.100.100.200/",
]


@pytest.mark.parametrize("url", INSIDE + METADATA)
def test_inside_targets_are_refused_by_default(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ssrf.TargetRefused):
        ssrf.resolve(url)


@pytest.mark.parametrize("url", METADATA)
def test_metadata_is_refused_even_when_private_targets_are_allowed(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with pytest.raises(ssrf.TargetRefused, match="metadata"):
        ssrf.resolve(url)


def test_loopback_is_allowed_when_the_operator_allows_private_targets(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    target = ssrf.resolve("http://localhost:9/hook?x=1")
    assert target.address.is_loopback and target.host_header == "localhost:9" and target.path == "/hook?x=1"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "http://user:pw@example.com/",
        "http:///nohost",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "javascript:alert(1)",
        "",
        None,
        5,
        {"a": 1},
        "http://a\x00b/",
        "h" * 3000,
    ],
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(ssrf.TargetRefused):
        ssrf.parse(url)


def test_public_addresses_pass():
    for literal in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"):
        assert ssrf.refusal(ipaddress.ip_address(literal), allow_private=False) is None


def test_a_name_that_resolves_to_any_inside_address_is_refused(monkeypatch, settings):
    """DNS answers are checked one by one: a rebinding name handing out a public and a private address fails."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    def fake(host, port, type=0):
        return [(2, 1, 6, "", ("93.184.216.34", port)), (2, 1, 6, "", ("10.1.2.3", port))]

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", fake)
    with pytest.raises(ssrf.TargetRefused, match="private"):
        ssrf.resolve("https://rebind.example/")


def test_the_connection_goes_to_the_checked_address(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    monkeypatch.setattr(ssrf.socket, "getaddrinfo", lambda h, p, type=0: [(2, 1, 6, "", ("93.184.216.34", p))])
    target = ssrf.resolve("https://hooks.example:8443/in")
    assert target.connect_url == "https://93.184.216.34:8443/in" and target.host_header == "hooks.example:8443"
