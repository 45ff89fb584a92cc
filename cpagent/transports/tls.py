"""TLS client contexts: TLS 1.2+, verified server certificate, optional client certificate."""

from __future__ import annotations

import ssl


def client_context(
    ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """Build a client context that never accepts a server certificate failing verification.

    OCPP 1.6 Security Whitepaper §2 (profiles 2 and 3): TLS 1.2 or above, the server certificate
    checked against the central system's CA (`ca_file`, else the system trust store), the host
    name checked; profile 3 adds the chargepoint's client certificate (`cert_file`/`key_file`).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cert_file:
        context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    return context
