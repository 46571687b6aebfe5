#!/usr/bin/env python3
"""make_malformed.py: writes testdata/malformed/, inputs that cert_file_parse and
cert_info_new must refuse (INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for the limits)
without crashing. Run once from this directory (python3 make_malformed.py); the output
is kept in the repository, so the test does not depend on this script or on Python.
Deterministic: the same files on every run.

Each file derives from TestCA.pem (Thunderbird's test CA, a real certificate) or is
built from scratch: truncations, random bytes, broken base64, wrong PEM labels, PKCS#7
bundles with garbage, lengths that lie, huge length fields, deep BER nesting, broken
fields inside an otherwise intact certificate.
"""
import base64
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "malformed")


def tlv(tag, content):
    """tlv encodes one DER element (tag is the identifier byte)."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + length + content


def pem(label, der, width=64):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + width] for i in range(0, len(b64), width)]
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)).encode()


SIGNED_DATA = bytes.fromhex("2a864886f70d010702")
ENVELOPED_DATA = bytes.fromhex("2a864886f70d010703")
DATA = bytes.fromhex("2a864886f70d010701")


def pkcs7(certs_content, oid=SIGNED_DATA, signer_infos=True):
    """pkcs7 builds a SignedData ContentInfo whose [0] certificates hold certs_content."""
    sd = tlv(0x02, b"\x01") + tlv(0x31, b"") + tlv(0x30, tlv(0x06, DATA))
    if certs_content is not None:
        sd += tlv(0xa0, certs_content)
    if signer_infos:
        sd += tlv(0x31, b"")
    return tlv(0x30, tlv(0x06, oid) + tlv(0xa0, tlv(0x30, sd)))


def main():
    with open(os.path.join(HERE, "TestCA.pem"), "rb") as f:
        ca_pem = f.read()
    body = ca_pem.split(b"-----BEGIN CERTIFICATE-----")[1].split(b"-----END")[0]
    ca = base64.b64decode(b"".join(body.split()))
    assert ca[0] == 0x30 and len(ca) > 700
    rng = random.Random(20261129)
    files = {}

    # Empty and tiny.
    files["empty.bin"] = b""
    files["one-byte-30.der"] = b"\x30"
    files["one-byte-00.bin"] = b"\x00"
    files["one-byte-ff.bin"] = b"\xff"
    files["newline.txt"] = b"\n"
    files["empty-sequence.der"] = b"\x30\x00"
    files["sequence-of-integer.der"] = tlv(0x30, tlv(0x02, b"\x01"))
    files["pkcs12-lookalike.der"] = tlv(0x30, tlv(0x02, b"\x03") + tlv(0x04, b"xx"))

    # Truncated DER at many offsets.
    for cut in (2, 3, 4, 5, 8, 16, 50, 100, 200, 300, 400, 500, 600, 700, len(ca) - 2, len(ca) - 1):
        files["truncated-%04d.der" % cut] = ca[:cut]

    # Random bytes, as is and behind a SEQUENCE header.
    for n in (16, 256, 4096):
        files["random-%d.bin" % n] = bytes(rng.randrange(256) for _ in range(n))
    for n in (16, 256, 4096):
        body = bytes(rng.randrange(256) for _ in range(n))
        files["random-in-sequence-%d.der" % n] = tlv(0x30, body)

    # Text without PEM, and binary that is not ASN.1.
    files["text.txt"] = b"This is my certificate, please import it.\n"
    files["utf16-text.txt"] = "-----BEGIN CERTIFICATE-----\n".encode("utf-16")
    files["base64-without-armor.txt"] = base64.b64encode(ca) + b"\n"

    # Broken base64 in PEM.
    good = pem("CERTIFICATE", ca).decode()
    lines = good.split("\n")
    files["pem-bad-char.pem"] = good.replace(lines[3], lines[3][:10] + "!" + lines[3][11:]).encode()
    files["pem-bad-padding.pem"] = good.replace("=\n-----END", "==x\n-----END").replace(
        lines[-3], lines[-3][:-1]).encode()
    files["pem-line-missing.pem"] = "\n".join(lines[:5] + lines[6:]).encode()
    files["pem-unicode.pem"] = good.replace(lines[2], "é" + lines[2][1:]).encode()
    files["pem-empty-body.pem"] = b"-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"
    files["pem-garbage-der.pem"] = pem("CERTIFICATE", bytes(rng.randrange(256) for _ in range(300)))
    files["pem-truncated-der.pem"] = pem("CERTIFICATE", ca[:400])
    files["pem-second-block-bad.pem"] = good.encode() + pem("CERTIFICATE", ca[:-1])
    files["pem-trusted-garbage.pem"] = pem("TRUSTED CERTIFICATE", b"\x04\x03abc" + ca)

    # Wrong labels and broken armor.
    files["pem-label-typo.pem"] = good.replace("CERTIFICATE", "CERTIFICAT").encode()
    files["pem-label-public-key.pem"] = good.replace("CERTIFICATE", "PUBLIC KEY").encode()
    files["pem-label-crl.pem"] = good.replace("CERTIFICATE", "X509 CRL").encode()
    files["pem-label-lowercase.pem"] = good.replace("CERTIFICATE", "certificate").encode()
    files["pem-end-mismatch.pem"] = good.replace("END CERTIFICATE", "END X509 CRL").encode()
    files["pem-no-end.pem"] = good.split("-----END")[0].encode()
    files["pem-begin-unterminated.pem"] = b"-----BEGIN CERTIFICATE\n" + good.encode().split(b"\n", 1)[1]
    files["pem-nested-begin.pem"] = good.replace(lines[4], "-----BEGIN CERTIFICATE-----").encode()
    files["pem-only-private-key.pem"] = pem("PRIVATE KEY", b"\x30\x03\x02\x01\x00")
    files["pem-long-label.pem"] = pem("X" * 200, ca)

    # PKCS#7 bundles with garbage.
    files["p7-garbage-cert.der"] = pkcs7(tlv(0x30, b"garbage inside a certificate"))
    files["p7-truncated-cert.der"] = pkcs7(ca[:500])
    files["p7-enveloped.der"] = pkcs7(ca, oid=ENVELOPED_DATA)
    files["p7-no-signerinfos.der"] = pkcs7(ca, signer_infos=False)
    files["p7-empty.der"] = pkcs7(None)
    files["p7-no-content.der"] = tlv(0x30, tlv(0x06, SIGNED_DATA))
    p7 = pkcs7(ca)
    files["p7-truncated.der"] = p7[:len(p7) // 2]
    files["p7-trailing.der"] = p7 + b"\x00\x00"
    files["p7-garbage.pem"] = pem("PKCS7", pkcs7(bytes(rng.randrange(256) for _ in range(64))))
    files["p7-random.pem"] = pem("PKCS7", bytes(rng.randrange(256) for _ in range(200)))
    # BER: the bundle with indefinite lengths, but the EOC of the SignedData missing.
    ber = (b"\x30\x80" + tlv(0x06, SIGNED_DATA) + b"\xa0\x80\x30\x80" + tlv(0x02, b"\x01") +
           tlv(0x31, b"") + tlv(0x30, tlv(0x06, DATA)) + b"\xa0\x80" + ca + b"\x00\x00" +
           tlv(0x31, b"") + b"\x00\x00\x00\x00")
    files["p7-ber-missing-eoc.der"] = ber

    # Lengths that lie.
    inner = ca[4:]  # the content of the outer SEQUENCE (its header is 30 82 xx xx)
    assert ca[1] == 0x82
    files["length-outer-too-long.der"] = b"\x30\x82" + (len(inner) + 10).to_bytes(2, "big") + inner
    files["length-outer-too-short.der"] = b"\x30\x82" + (len(inner) - 10).to_bytes(2, "big") + inner
    tbs_len = int.from_bytes(ca[6:8], "big")
    lie = bytearray(ca)
    lie[6:8] = (tbs_len + 40).to_bytes(2, "big")
    files["length-tbs-overruns.der"] = bytes(lie)
    lie = bytearray(ca)
    lie[6:8] = (tbs_len - 40).to_bytes(2, "big")
    files["length-tbs-short.der"] = bytes(lie)
    files["length-non-minimal.der"] = b"\x30\x84" + len(inner).to_bytes(4, "big") + inner
    files["length-huge-4.der"] = b"\x30\x84\xff\xff\xff\xff" + inner[:100]
    files["length-huge-8.der"] = b"\x30\x88\x7f\xff\xff\xff\xff\xff\xff\xff" + inner[:100]
    files["length-9-bytes.der"] = b"\x30\x89" + b"\x01" * 9 + inner[:100]
    files["indefinite-certificate.der"] = b"\x30\x80" + inner + b"\x00\x00"
    files["deep-ber-nesting.der"] = b"\x30\x80" * 5000 + b"\x00\x00" * 5000
    files["deep-der-nesting.der"] = b"".join(bytes([0x30, 0x82]) + (4 * (1000 - i)).to_bytes(2, "big")
                                             for i in range(1000))
    files["high-tag-number.der"] = b"\x30\x05\x1f\x81\x80\x01\x00"
    files["trailing-garbage.der"] = ca + b"trailing garbage"

    # Broken fields inside an intact frame (the signature is not checked here).
    def patch(name, old, new, count=1):
        i = ca.find(old)
        assert i >= 0, name
        assert len(old) == len(new)
        files[name] = ca[:i] + new + ca[i + len(old):]

    patch("field-version-7.der", b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07")
    patch("field-serial-boolean.der", b"\x02\x01\x01\x30", b"\x01\x01\x01\x30")
    i = ca.find(b"\x17\x0d")
    files["field-time-month-13.der"] = ca[:i + 4] + b"13" + ca[i + 6:]
    files["field-time-letters.der"] = ca[:i + 2] + b"ABCDEFGHIJKLZ" + ca[i + 15:]
    files["field-time-no-zone.der"] = ca[:i + 14] + b"X" + ca[i + 15:]
    patch("field-keyusage-bad-bitstring.der", b"\x03\x02\x01\x06", b"\x03\x02\x09\x06")
    patch("field-basicconstraints-as-keyusage.der", b"\x06\x03\x55\x1d\x13", b"\x06\x03\x55\x1d\x0f")
    patch("field-spki-not-bitstring.der", b"\x03\x82\x01\x0f\x00", b"\x04\x82\x01\x0f\x00")
    patch("field-rsa-key-garbage.der", b"\x03\x82\x01\x0f\x00\x30\x82\x01\x0a\x02\x82\x01\x01",
          b"\x03\x82\x01\x0f\x00\x31\x82\x01\x0a\x02\x82\x01\x01")
    patch("field-name-not-set.der", b"\x31\x0b\x30\x09\x06\x03\x55\x04\x06", b"\x30\x0b\x30\x09\x06\x03\x55\x04\x06")

    # Over the limits: 10,001 tiny "certificates" in a PKCS#7 (RESOURCE_EXHAUSTED before
    # anything is read).
    files["limit-10001-certs.der"] = pkcs7(tlv(0x30, b"") * 10001)

    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old != "README":
            os.remove(os.path.join(OUT, old))
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    with open(os.path.join(OUT, "README"), "w") as f:
        f.write("Inputs that must be refused without a crash; made by ../make_malformed.py.\n"
                "Each must give INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for limit-*).\n")
    print("%d files in %s" % (len(files), OUT))


if __name__ == "__main__":
    sys.exit(main())
