"""bulk_pki: many S/MIME leaf certificates made fast with python3-cryptography, for
the scale test and the scale benchmark: one P-256 CA signs n leaves that share one
P-256 key (so generation takes seconds, not minutes)."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def make_certificates(n, address, ca_name="Bulk CA", first_serial=1000):
    """make_certificates returns (CA PEM, [leaf PEM], leaf key PEM). Leaf i carries
    the mail address address(i) and serial first_serial + i, is valid from a day ago
    for a year, and is for signing and key agreement with emailProtection."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.utcnow()
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (x509.CertificateBuilder().subject_name(issuer).issuer_name(issuer)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaves = []
    for i in range(n):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "User %06d" % i)])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer)
                .public_key(leaf_key.public_key()).serial_number(first_serial + i)
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address(i))]),
                               critical=False)
                .add_extension(x509.KeyUsage(True, False, True, False, True, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        leaves.append(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = leaf_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    return ca.public_bytes(serialization.Encoding.PEM), leaves, key_pem
