"""Test certificates generated on the fly with `trustme` (test-only dependency)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True, slots=True)
class Pki:
    """A test CA, a server certificate for localhost/127.0.0.1, and one client certificate."""

    ca: trustme.CA
    ca_file: str
    client_cert_file: str
    client_key_file: str

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        if require_client_cert:
            self.ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def write_server_files(self, directory: Path) -> tuple[str, str]:
        """Write a server certificate chain and key for localhost/127.0.0.1; their paths."""
        server = self.ca.issue_cert("localhost", "127.0.0.1")
        cert_file, key_file = directory / "server.pem", directory / "server.key"
        for blob in server.cert_chain_pems:
            blob.write_to_path(str(cert_file), append=True)
        server.private_key_pem.write_to_path(str(key_file))
        return str(cert_file), str(key_file)


def make_pki(directory: Path, client_name: str = "CP001") -> Pki:
    """Write a fresh CA and a client certificate/key for `client_name` into `directory`."""
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client = ca.issue_cert(client_name)
    cert_file, key_file = directory / "client.pem", directory / "client.key"
    for blob in client.cert_chain_pems:
        blob.write_to_path(str(cert_file), append=True)
    client.private_key_pem.write_to_path(str(key_file))
    return Pki(ca, str(ca_file), str(cert_file), str(key_file))
