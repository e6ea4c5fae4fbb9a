"""The media egress policy: task data names media URLs, so the Hub fetches only from the project's
Label Studio, public hosts and hosts an admin allows -- against real servers on loopback.

DNS is simulated by replacing ``socket.getaddrinfo`` for made-up ``.test`` names only (there is no
DNS server here); every connection is real."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.clients import HubSession, fetch_bytes
from core.egress import EgressPolicy, EgressRefused, parse_allowed_host
from core.errors import UpstreamUnavailable
from inference.media import LabelStudioAccess, resolve_media
from tests.core.conftest import PNG, REFUSED, FakeDNS, Serve
from wow_ai_hub.media import MediaError

pytestmark = pytest.mark.usefixtures("short_timeouts")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:{port}/a.png", "it is a loopback or private address"),
        ("http://[::ffff:127.0.0.1]:{port}/a.png", "loopback or private address"),
        ("http://2130706433:{port}/a.png", "it resolves to a loopback or private address"),  # 127.0.0.1
        ("http://0.0.0.0:{port}/a.png", "unspecified, multicast or reserved"),  # Linux: this host
        ("http://10.0.0.1/a.png", "loopback or private"),
        ("http://172.16.0.1/a.png", "loopback or private"),
        ("http://192.168.1.1/a.png", "loopback or private"),
        ("http://100.64.0.1/a.png", "loopback or private"),
        ("http://[fd12::1]/a.png", "loopback or private"),
        ("http://169.254.169.254/latest/meta-data/iam/", "link-local or cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "link-local or cloud metadata"),
        ("http://100.100.100.200/latest/meta-data/", "link-local or cloud metadata"),
        ("http://[fe80::1]/a.png", "link-local or cloud metadata"),
        ("http://224.0.0.1/a.png", "unspecified, multicast or reserved"),
        ("http://240.0.0.1/a.png", "unspecified, multicast or reserved"),
    ],
)
def test_internal_and_metadata_addresses_are_refused_before_connecting(
    serve: Serve, url: str, kind: str
) -> None:
    base, media = serve()
    with pytest.raises(MediaError, match=REFUSED) as refused:
        resolve_media(url.format(port=base.rsplit(":", 1)[1]), task_id=1, access=None)
    assert kind in str(refused.value)
    assert media.hits == []


def test_a_name_that_resolves_to_loopback_is_refused_without_naming_the_address(serve: Serve) -> None:
    base, media = serve()
    with pytest.raises(MediaError, match=REFUSED) as refused:
        resolve_media(base.replace("127.0.0.1", "localhost") + "/a.png", task_id=1, access=None)
    assert "resolves to a loopback or private address" in str(refused.value)
    assert "127.0.0.1" not in str(refused.value) and media.hits == []


def test_every_address_a_name_resolves_to_is_checked(fake_dns: FakeDNS) -> None:
    fake_dns.answers["cdn.test"] = [["93.184.215.14"]]
    fake_dns.answers["mixed.test"] = [["93.184.215.14", "10.1.2.3"]]
    policy = EgressPolicy()
    assert str(policy.check("https://cdn.test/a.png").address) == "93.184.215.14"  # public: allowed
    with pytest.raises(EgressRefused, match="resolves to a loopback or private address"):
        policy.check("https://mixed.test/a.png")
    with pytest.raises(MediaError, match=REFUSED):
        resolve_media("http://mixed.test/a.png", task_id=1, access=None)


def test_public_hosts_can_be_turned_off(settings: Any, fake_dns: FakeDNS) -> None:
    fake_dns.answers["cdn.test"] = [["93.184.215.14"]]
    settings.HUB_MEDIA_ALLOW_PUBLIC = False
    with pytest.raises(EgressRefused, match="it resolves to a public address"):
        EgressPolicy().check("https://cdn.test/a.png")
    settings.HUB_MEDIA_ALLOWED_HOSTS = ["cdn.test"]
    assert str(EgressPolicy().check("https://cdn.test/a.png").address) == "93.184.215.14"


@pytest.mark.parametrize(
    ("entry", "host"),
    [
        ("127.0.0.1:{port}", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.0/8", "127.0.0.1"),
        ("localhost", "localhost"),
        ("LOCALHOST:{port}", "localhost"),
    ],
)
def test_allowed_hosts_are_fetched_from(serve: Serve, settings: Any, entry: str, host: str) -> None:
    base, media = serve()
    port = base.rsplit(":", 1)[1]
    settings.HUB_MEDIA_ALLOWED_HOSTS = ["minio:9000", entry.format(port=port)]
    url = f"http://{host}:{port}/a.png"
    assert resolve_media(url, task_id=1, access=None) == (PNG, "image/png")
    assert media.hits == ["/a.png"] and media.hosts == [f"{host}:{port}"]


def test_an_allowed_port_does_not_allow_the_hosts_other_ports(serve: Serve, settings: Any) -> None:
    allowed, _ = serve()
    other, media = serve()
    settings.HUB_MEDIA_ALLOWED_HOSTS = [allowed.removeprefix("http://")]
    with pytest.raises(MediaError, match=REFUSED):
        resolve_media(other + "/a.png", task_id=1, access=None)
    assert media.hits == []


@pytest.mark.parametrize("entry", ["*", "minio:http", "[fd00::1]x", "10.0.0.0/33", "a b", "host:99999"])
def test_an_allowed_hosts_entry_that_means_nothing_refuses_media_and_says_why(
    settings: Any, entry: str
) -> None:
    with pytest.raises(ValueError, match="HUB_MEDIA_ALLOWED_HOSTS"):
        parse_allowed_host(entry)
    settings.HUB_MEDIA_ALLOWED_HOSTS = [entry]
    with pytest.raises(MediaError, match="HUB_MEDIA_ALLOWED_HOSTS"):
        resolve_media("http://127.0.0.1:9/a.png", task_id=1, access=None)


def test_the_projects_label_studio_is_allowed_on_loopback_and_nothing_else_there(serve: Serve) -> None:
    label_studio, ls_media = serve()
    other, other_media = serve()
    access = LabelStudioAccess(label_studio, "")
    assert resolve_media("/data/upload/1/a.png", task_id=1, access=access)[0] == PNG
    assert resolve_media(label_studio + "/data/upload/1/b.png", task_id=1, access=access)[0] == PNG
    assert ls_media.hits == ["/data/upload/1/a.png", "/data/upload/1/b.png"]
    with pytest.raises(MediaError, match=REFUSED):
        resolve_media(other + "/a.png", task_id=1, access=access)
    assert other_media.hits == []


def test_a_label_studio_address_does_not_open_cloud_metadata() -> None:
    # The instance's address comes from /setup; naming the metadata service there must not reach it.
    access = LabelStudioAccess("http://169.254.169.254", "")
    with pytest.raises(MediaError, match="link-local or cloud metadata"):
        resolve_media("/data/upload/1/a.png", task_id=1, access=access)


def test_redirects_are_checked_like_the_first_url(serve: Serve, settings: Any) -> None:
    internal, internal_media = serve()
    storage, storage_media = serve()
    label_studio, ls_media = serve(
        {
            "/tasks/7/presign/": storage + "/bucket/a.png",
            "/data/upload/1/to-internal.png": internal + "/secret",
            "/data/upload/1/to-metadata.png": "http://169.254.169.254/latest/meta-data/iam/",
        }
    )
    settings.HUB_MEDIA_ALLOWED_HOSTS = [storage.removeprefix("http://")]
    access = LabelStudioAccess(label_studio, "")
    assert resolve_media("s3://bucket/a.png", task_id=7, access=access)[0] == PNG  # to an allowed host
    assert storage_media.hits == ["/bucket/a.png"]
    with pytest.raises(MediaError, match=REFUSED + " 127.0.0.1"):
        resolve_media("/data/upload/1/to-internal.png", task_id=1, access=access)
    with pytest.raises(MediaError, match=REFUSED + " 169.254.169.254:80: it is a link-local"):
        resolve_media("/data/upload/1/to-metadata.png", task_id=1, access=access)
    assert internal_media.hits == []
    assert len(ls_media.hits) == 3


def test_the_connection_goes_to_the_address_that_was_checked(
    serve: Serve, settings: Any, fake_dns: FakeDNS
) -> None:
    # Same port on two loopback addresses: only 127.0.0.2 is allowed. The name first resolves there,
    # then (a rebinding DNS server) to 127.0.0.1.
    internal, internal_media = serve()
    port = int(internal.rsplit(":", 1)[1])
    _, allowed_media = serve(address=("127.0.0.2", port))
    settings.HUB_MEDIA_ALLOWED_HOSTS = ["127.0.0.2"]
    fake_dns.answers["media.rebind.test"] = [["127.0.0.2"], ["127.0.0.1"]]
    url = f"http://media.rebind.test:{port}/a.png"
    assert resolve_media(url, task_id=1, access=None)[0] == PNG
    assert allowed_media.hits == ["/a.png"] and allowed_media.hosts == [f"media.rebind.test:{port}"]
    assert internal_media.hits == []
    assert fake_dns.asked == ["media.rebind.test"]  # resolved once, for the check
    with pytest.raises(MediaError, match=REFUSED):  # the next lookup's answer is checked in turn
        resolve_media(url, task_id=1, access=None)
    assert internal_media.hits == []


def certificate_for(name: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (it is its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_tls_to_a_pinned_address_still_checks_the_names_certificate(
    serve: Serve, settings: Any, fake_dns: FakeDNS, tmp_path: Path
) -> None:
    cert_file, key_file = certificate_for("media.tls.test", tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    server_names: list[str | None] = []

    def remember_server_name(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        server_names.append(name)

    tls.sni_callback = remember_server_name
    base, media = serve(tls=tls)
    port = base.rsplit(":", 1)[1]
    fake_dns.answers["media.tls.test"] = [["127.0.0.1"]]
    fake_dns.answers["impostor.tls.test"] = [["127.0.0.1"]]
    settings.HUB_MEDIA_ALLOWED_HOSTS = ["127.0.0.1"]
    session = HubSession(egress=EgressPolicy(), ca_certs=str(cert_file))
    assert fetch_bytes(session, f"https://media.tls.test:{port}/a.png")[0] == PNG
    assert server_names == ["media.tls.test"] and media.hosts == [f"media.tls.test:{port}"]
    with pytest.raises(UpstreamUnavailable, match="unreachable"):  # the certificate names another host
        fetch_bytes(session, f"https://impostor.tls.test:{port}/a.png")
    assert media.hits == ["/a.png"]


def test_allowed_host_entries_parse_as_documented() -> None:
    assert parse_allowed_host("Minio:9000").name == "minio"
    assert parse_allowed_host("[fd00::5]:9000").network == ipaddress.ip_network("fd00::5/128")
    assert parse_allowed_host("fd00::5").port is None
    assert parse_allowed_host("10.0.0.0/8").network == ipaddress.ip_network("10.0.0.0/8")
