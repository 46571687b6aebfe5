"""pki: the certificates of the mutual-TLS tests, made at test time with the OpenSSL 3
command line (EC P-256, valid two days).

make(dir) returns a dict name -> (cert_path, key_path) with:
  ca           the CA given to smimed's --client-ca, and trusted by the clients
  server       CN=localhost, SAN DNS:localhost and IP:127.0.0.1, signed by ca
  admin        SAN URI smimed:role:admin, OU=smimed-admin
  service      SAN URI smimed:role:service, OU=smimed-service, CN=helpdesk-app
  norole       verified by ca, but no role (SAN email only, no OU)
  mixed        SAN URI smimed:role:admin but OU=smimed-service: its role depends on
               smimed's --role-from
  other_ca     another CA, not given to smimed
  intruder     SAN URI smimed:role:admin, signed by other_ca
"""

import os
import subprocess

LEAVES = {
    # name: (issuer, subject, extensions)
    "server": ("ca", "/O=Example/CN=localhost",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
    "admin": ("ca", "/O=Example/OU=smimed-admin/CN=ops-admin",
              "subjectAltName=URI:smimed:role:admin\nextendedKeyUsage=clientAuth\n"),
    "service": ("ca", "/O=Example/OU=smimed-service/CN=helpdesk-app",
                "subjectAltName=URI:smimed:role:service\nextendedKeyUsage=clientAuth\n"),
    "norole": ("ca", "/O=Example/CN=stranger",
               "subjectAltName=email:stranger@example.com\nextendedKeyUsage=clientAuth\n"),
    "mixed": ("ca", "/O=Example/OU=smimed-service/CN=mixed-app",
              "subjectAltName=URI:smimed:role:admin\nextendedKeyUsage=clientAuth\n"),
    "intruder": ("other_ca", "/O=Elsewhere/CN=intruder",
                 "subjectAltName=URI:smimed:role:admin\nextendedKeyUsage=clientAuth\n"),
}


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def _ca(d, name, subject):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", cert, "-subj", subject, "-days", "2",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make(d):
    os.makedirs(d, exist_ok=True)
    out = {
        "ca": _ca(d, "ca", "/O=Example/CN=smimed test client CA"),
        "other_ca": _ca(d, "other_ca", "/O=Elsewhere/CN=another CA"),
    }
    for name, (issuer, subject, ext) in LEAVES.items():
        cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
        csr, extfile = os.path.join(d, name + ".csr"), os.path.join(d, name + ".ext")
        with open(extfile, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" + ext)
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", subject)
        ca_cert, ca_key = out[issuer]
        _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
                 "-set_serial", str(1000 + len(out)), "-days", "2", "-out", cert,
                 "-extfile", extfile)
        out[name] = (cert, key)
    return out
