"""Where the Hub may fetch media from: task data names media URLs, so they are not to be trusted.

A media URL is fetched only when every address its host resolves to is allowed:

* public (globally routable) addresses, unless ``HUB_MEDIA_ALLOW_PUBLIC`` is off;
* loopback and private addresses of the project's own Label Studio (the instance's base URL, same
  host and port), which often runs beside the Hub;
* anything an entry of ``HUB_MEDIA_ALLOWED_HOSTS`` names (a host, host:port, IP or CIDR).

Everything else is refused: loopback, private and shared (CGNAT) addresses of other hosts,
link-local and cloud metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...),
unspecified, multicast and reserved ones. The name is resolved once per request and the connection
goes to the address that was checked, so a DNS answer that changes in between (rebinding) cannot
send it elsewhere; the Host header, TLS SNI and certificate checks still use the name.
Model servers are registered by an admin and are not subject to this policy; an operator may bound
where they are with ``HUB_MODEL_HOSTS_ALLOWED`` (``ModelHostPolicy``), checked when a model is
registered and again, like media, on every call.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from rest_framework import status

from core.errors import HubError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}
# Metadata services outside link-local space (which is refused as a whole): AWS over IPv6,
# Alibaba Cloud, Oracle Cloud.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")

# What an address is, as far as the policy cares.
PUBLIC = "a public"
INTERNAL = "a loopback or private"  # allowed for the project's Label Studio
FORBIDDEN = "a link-local or cloud metadata"
UNUSABLE = "an unspecified, multicast or reserved"


class HostUnresolvable(OSError):
    """The name has no address: the host is unreachable, which is not a refusal."""


class EgressRefused(HubError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "egress_refused"


@dataclass(frozen=True)
class AllowedHost:
    """One entry of an allow-list (``HUB_MEDIA_ALLOWED_HOSTS``, ``HUB_MODEL_HOSTS_ALLOWED``): a host
    name, every name under a domain (``*.example.com``) or a network, on any port or one."""

    name: str | None
    network: IPNetwork | None
    port: int | None

    def matches(self, host: str, port: int, address: IPAddress) -> bool:
        if self.name is not None:
            return self.matches_name(host, port)
        if self.port is not None and self.port != port:
            return False
        return self.network is not None and address in self.network

    def matches_name(self, host: str, port: int) -> bool:
        """Whether this is a name entry that allows ``host`` on ``port`` (whatever it resolves to)."""
        if self.name is None or (self.port is not None and self.port != port):
            return False
        return host.endswith(self.name[1:]) if self.name.startswith("*.") else self.name == host


def parse_allowed_host(entry: str, setting: str = "HUB_MEDIA_ALLOWED_HOSTS") -> AllowedHost:
    """``minio``, ``*.gpu.example.com``, ``minio:9000``, ``10.0.0.5``, ``[fd00::5]:9000`` or
    ``10.0.0.0/8``; ValueError, naming ``setting``, otherwise."""
    text = entry.strip().lower().rstrip(".")
    if "/" in text:
        try:
            return AllowedHost(None, ipaddress.ip_network(text, strict=False), None)
        except ValueError as exc:
            raise ValueError(f"{setting}: {entry!r} is not a valid CIDR network") from exc
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{setting}: {entry!r} is not [address]:port")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port = None
    if port_text or text.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{setting}: {entry!r} has no valid port")
        port = int(port_text)
    try:
        return AllowedHost(None, ipaddress.ip_network(host), port)
    except ValueError:
        pass
    if not HOST_NAME.match(host.removeprefix("*.")):
        raise ValueError(
            f"{setting}: {entry!r} is not a host name, *.domain, host:port, IP address or CIDR network"
        )
    return AllowedHost(host, None, port)


@lru_cache(maxsize=8)
def _allowed_hosts(
    entries: tuple[str, ...], setting: str = "HUB_MEDIA_ALLOWED_HOSTS"
) -> tuple[AllowedHost, ...]:
    return tuple(parse_allowed_host(entry, setting) for entry in entries if entry.strip())


def address_kind(address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one is where the connection really goes.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_kind(embedded)
    if address.is_link_local or address in METADATA_ADDRESSES:
        return FORBIDDEN
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return UNUSABLE
    if address.is_global:
        return PUBLIC
    return INTERNAL


def _host_and_port(url: str, what: str = "media URL") -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError as exc:
        raise EgressRefused(f"The {what} has an invalid port.") from exc
    host = (parts.hostname or "").rstrip(".")
    if not host or not port:
        raise EgressRefused(f"The {what} has no host to call.")
    return host, port


def _shown(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to, in the resolver's order, each once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostUnresolvable(f"cannot resolve {host}") from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class Destination:
    """A checked request target: the name the URL gives and the address to connect to."""

    host: str
    port: int
    address: IPAddress

    def pinned_url(self, url: str) -> str:
        """The URL with the checked address in place of the name (and of any credentials)."""
        parts = urlsplit(url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return urlunsplit((parts.scheme, f"{literal}:{self.port}", parts.path, parts.query, ""))

    def host_header(self, url: str) -> str:
        parts = urlsplit(url)
        name = f"[{self.host}]" if ":" in self.host else self.host
        return f"{name}:{parts.port}" if parts.port else name


@dataclass(frozen=True)
class EgressPolicy:
    """The media policy for one project: ``label_studio_url`` is its instance's base URL ("" if none)."""

    label_studio_url: str = ""
    # False: the instance's address is honoured only where it is public (see HUB_MEDIA_TRUST_SETUP_HOSTNAME).
    label_studio_private_ok: bool = True

    def _is_label_studio(self, host: str, port: int) -> bool:
        if not self.label_studio_url:
            return False
        try:
            return _host_and_port(self.label_studio_url) == (host, port)
        except EgressRefused:  # a base URL the Hub cannot use names no host
            return False

    def check(self, url: str) -> Destination:
        """Resolve the URL's host once and check every address; the destination to connect to."""
        if urlsplit(url).scheme not in DEFAULT_PORTS:
            raise EgressRefused("The Hub fetches media over http and https only.")
        host, port = _host_and_port(url)
        try:
            allowed = _allowed_hosts(tuple(settings.HUB_MEDIA_ALLOWED_HOSTS))
        except ValueError as exc:
            raise EgressRefused(str(exc)) from exc
        addresses = resolve(host, port)
        if not addresses:
            raise HostUnresolvable(f"{host} has no address")
        for address in addresses:
            if any(entry.matches(host, port, address) for entry in allowed):
                continue
            kind = address_kind(address)
            if kind == PUBLIC and settings.HUB_MEDIA_ALLOW_PUBLIC:
                continue
            label_studio_kinds = (PUBLIC, INTERNAL) if self.label_studio_private_ok else (PUBLIC,)
            if kind in label_studio_kinds and self._is_label_studio(host, port):
                continue
            # The address itself stays out of the message when the URL named a host, not an address.
            raise EgressRefused(
                f"The Hub does not fetch media from {_shown(host, port)}: it is {kind} address, "
                "neither the project's Label Studio nor in HUB_MEDIA_ALLOWED_HOSTS."
                if host == str(address)
                else f"The Hub does not fetch media from {_shown(host, port)}: it resolves to {kind} "
                "address, and is neither the project's Label Studio nor in HUB_MEDIA_ALLOWED_HOSTS."
            )
        return Destination(host=host, port=port, address=addresses[0])


@dataclass(frozen=True)
class ModelHostPolicy:
    """``HUB_MODEL_HOSTS_ALLOWED``: where model servers may be. A URL passes when its host matches a name
    entry (``gpu1``, ``*.gpu.example.com``, either with ``:port``), or when every address it resolves to
    is in an address or network entry; the connection then goes to the checked address."""

    entries: tuple[str, ...]

    def check(self, url: str) -> Destination:
        host, port = _host_and_port(url, "model server URL")
        try:
            allowed = _allowed_hosts(self.entries, "HUB_MODEL_HOSTS_ALLOWED")
        except ValueError as exc:
            raise EgressRefused(str(exc)) from exc
        addresses = resolve(host, port)
        if not addresses:
            raise HostUnresolvable(f"{host} has no address")
        if not all(any(entry.matches(host, port, a) for entry in allowed) for a in addresses):
            raise EgressRefused(
                f"{_shown(host, port)} is not among the model server hosts this Hub allows "
                "(HUB_MODEL_HOSTS_ALLOWED)."
            )
        return Destination(host=host, port=port, address=addresses[0])

    def refusal(self, url: str) -> str | None:
        """Why a model server URL is refused, or None: what registering a model checks (a host a name
        entry allows is not resolved: it may not be up yet)."""
        try:
            host, port = _host_and_port(url, "model server URL")
            allowed = _allowed_hosts(self.entries, "HUB_MODEL_HOSTS_ALLOWED")
            if any(entry.matches_name(host, port) for entry in allowed):
                return None
            self.check(url)
        except ValueError as exc:
            return str(exc)
        except EgressRefused as exc:
            return str(exc.detail)
        except HostUnresolvable:
            return (
                f"{urlsplit(url).hostname} cannot be resolved, so it cannot be checked against the model "
                "server hosts this Hub allows (HUB_MODEL_HOSTS_ALLOWED)."
            )
        return None


def model_host_policy() -> ModelHostPolicy | None:
    """The operator's allow-list of model server hosts; None when unset (model servers anywhere)."""
    entries = tuple(entry for entry in settings.HUB_MODEL_HOSTS_ALLOWED if entry.strip())
    return ModelHostPolicy(entries) if entries else None
