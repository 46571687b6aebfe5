"""smimed_client: how a Python service (a mail gateway, a scheduler) calls smimed.

It needs Debian's python3-grpcio and python3-protobuf, and the stubs generated from
protos/smime/v1 by client/python/gen_stubs.sh (Bazel: //client/python:stubs) on sys.path.
Everything below is plain generated-stub usage, wrapped in the few calls a helpdesk makes,
with the deadlines, channel options and errors it needs.

    from smimed_client import Client

    smime = Client("unix:/var/lib/smimed/smimed.sock")           # on the same host
    smime = Client("smimed.helpdesk.svc:8443",                    # over mutual TLS
                   tls=dict(ca="/etc/smimed-client/ca.pem",
                            cert="/etc/smimed-client/tls.crt",
                            key="/etc/smimed-client/tls.key"))

    smime.enable()                                                # admin, once
    smime.import_certificates(open("alice.p12", "rb").read(), password="secret")
    wire = smime.sign_encrypt(message_bytes, sign=True, encrypt=True)
    opened = smime.decrypt_verify(received_bytes)
    for layer in opened.layers:
        print(describe(layer))
    for entry in smime.logs(address="alice@example.com"):
        print(entry.rpc, entry.comment)

Errors raise grpc.RpcError; e.code() is a grpc.StatusCode (FAILED_PRECONDITION,
INVALID_ARGUMENT, ...) and e.details() a message a person can act on.

Run it as a script to see a server's state: /usr/bin/python3 smimed_client.py [ADDR]
"""

import os
import sys

import grpc

from grpc_health.v1 import health_pb2, health_pb2_grpc
from smime.v1 import certificate_pb2, certificate_pb2_grpc
from smime.v1 import log_pb2, log_pb2_grpc
from smime.v1 import message_pb2, message_pb2_grpc
from smime.v1 import settings_pb2, settings_pb2_grpc

# MAX_MESSAGE_BYTES: the largest message sent or accepted (the daemon's limit: 32 MiB).
MAX_MESSAGE_BYTES = 64 << 20


class Client:
    """Client holds one gRPC channel to smimed and a stub per service on it.

    A channel is thread-safe and reconnects by itself: make one per process and share it.
    """

    def __init__(self, addr, tls=None, server_name=None, timeout=30):
        """addr: "unix:/path/smimed.sock" (local admin) or "host:port" (mutual TLS).

        tls: dict of PEM file paths ca, cert, key; the client certificate decides the role
        the daemon grants (admin or service). Without tls: the Unix socket, or a loopback
        listener started with --insecure. server_name: the name to check in the server's
        certificate when it differs from the host in addr. timeout: default deadline of
        each call, in seconds.
        """
        self.timeout = timeout
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        if tls is None:
            self.channel = grpc.insecure_channel(addr, options=options)
        else:
            def read(name):
                with open(tls[name], "rb") as f:
                    return f.read()
            creds = grpc.ssl_channel_credentials(root_certificates=read("ca"),
                                                 private_key=read("key"),
                                                 certificate_chain=read("cert"))
            if server_name:
                options.append(("grpc.ssl_target_name_override", server_name))
            self.channel = grpc.secure_channel(addr, creds, options=options)
        self.certificates = certificate_pb2_grpc.CertificateServiceStub(self.channel)
        self.messages = message_pb2_grpc.MessageServiceStub(self.channel)
        self.log = log_pb2_grpc.LogServiceStub(self.channel)
        self.settings = settings_pb2_grpc.SettingsServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def serving(self):
        """serving is True when smimed answers and its database does (gRPC health check)."""
        try:
            resp = self.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.RpcError:
            return False
        return resp.status == health_pb2.HealthCheckResponse.SERVING

    # --- Settings (reading: service role; changing: admin) ---

    def get_settings(self):
        return self.settings.GetSettings(settings_pb2.GetSettingsRequest(), timeout=self.timeout)

    def enable(self, enabled=True):
        """enable turns the S/MIME integration on (off by default; while off, certificate,
        message and log calls fail with FAILED_PRECONDITION). Admin role."""
        req = settings_pb2.UpdateSettingsRequest(enabled=enabled)
        return self.settings.UpdateSettings(req, timeout=self.timeout).settings

    # --- Certificates (import: admin role) ---

    def import_certificates(self, data, password=""):
        """import_certificates stores every certificate in data (PEM, DER, PKCS#7,
        PKCS#12) and a PKCS#12's private key."""
        req = certificate_pb2.ImportCertificatesRequest(data=data, password=password)
        return self.certificates.ImportCertificates(req, timeout=self.timeout)

    def list_certificates(self, **filters):
        req = certificate_pb2.ListCertificatesRequest(**filters)
        return self.certificates.ListCertificates(req, timeout=self.timeout)

    # --- Mail (service role) ---

    def security_options(self, sender, recipients=(), group=""):
        """security_options: what the composer shows (can sign / encrypt, and why not)."""
        req = message_pb2.GetSecurityOptionsRequest(recipients=list(recipients), group=group,
                                                    **{"from": sender})
        return self.messages.GetSecurityOptions(req, timeout=self.timeout)

    def sign_encrypt(self, message, sign=True, encrypt=True, recipients=(), **options):
        """sign_encrypt takes the complete RFC 5322 message (bytes) and returns the bytes
        to hand to the MTA. Recipients are To and Cc plus the sender unless recipients
        names others. options: SignEncryptOptions fields, e.g.
        cipher=message_pb2.CONTENT_CIPHER_AES256_GCM."""
        req = message_pb2.SignEncryptRequest(message=message, sign=sign, encrypt=encrypt,
                                             recipients=list(recipients),
                                             options=message_pb2.SignEncryptOptions(**options))
        return self.messages.SignEncrypt(req, timeout=self.timeout).message

    def decrypt_verify(self, message):
        """decrypt_verify opens a received message; the response's message is the opened
        message and layers (outermost first) say what happened. Mail that is not S/MIME
        comes back unchanged with no layers; a bad signature is a status, not an error."""
        req = message_pb2.DecryptVerifyRequest(message=message)
        return self.messages.DecryptVerify(req, timeout=self.timeout)

    # --- Audit log (service role) ---

    def logs(self, page_size=100, **filters):
        """logs yields audit entries newest first, fetching pages as needed; filters are
        ListLogsRequest fields (direction=log_pb2.DIRECTION_OUTGOING, address=...)."""
        token = ""
        while True:
            req = log_pb2.ListLogsRequest(page_size=page_size, page_token=token, **filters)
            page = self.log.ListLogs(req, timeout=self.timeout)
            yield from page.entries
            token = page.next_page_token
            if not token:
                return


def describe(layer):
    """describe turns one DecryptVerify layer into the line an agent sees."""
    if layer.kind == message_pb2.Layer.KIND_SIGNED:
        status = message_pb2.SignatureStatus.Name(layer.signature_status)
        signer = ", ".join(layer.signer_certificate.email_addresses)
        return "signature %s (%s): %s" % (status[len("SIGNATURE_STATUS_"):].lower(), signer,
                                          layer.comment)
    if layer.kind in (message_pb2.Layer.KIND_ENVELOPED, message_pb2.Layer.KIND_AUTH_ENVELOPED):
        status = message_pb2.DecryptionStatus.Name(layer.decryption_status)
        return "encryption %s: %s" % (status[len("DECRYPTION_STATUS_"):].lower(), layer.comment)
    return "unknown layer %d" % layer.kind


def main(argv):
    addr = argv[1] if len(argv) > 1 else os.environ.get("SMIMED_ADDR",
                                                        "unix:/var/lib/smimed/smimed.sock")
    with Client(addr) as smime:
        print("%s: %s" % (addr, "serving" if smime.serving() else "NOT serving"))
        s = smime.get_settings()
        print("enabled: %s, version %s, %d engines, KEK check value %s"
              % (s.settings.enabled, s.status.version, s.status.engines,
                 s.status.kek_check_value))
        if not s.settings.enabled:
            print("the log is readable once an admin enables the integration")
            return
        for i, e in enumerate(smime.logs(page_size=5)):
            if i == 5:
                break
            print(e.create_time.ToJsonString(), e.rpc, log_pb2.LogStatus.Name(e.status),
                  e.comment)


if __name__ == "__main__":
    main(sys.argv)
