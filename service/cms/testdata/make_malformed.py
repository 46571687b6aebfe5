#!/usr/bin/env python3
"""make_malformed.py: writes testdata/malformed/, inputs that every CMS parser here must
reject cleanly (or, for a signer-level defect, report as not valid), never crash on.

Run once from service/cms/testdata (the output is kept in the repository):
    python3 make_malformed.py
Sources are real messages from thunderbird/ (NSS BER and OpenSSL DER). Deterministic.
"""
import base64
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "malformed")


def eml_cms(path):
    """The base64 body of a single-part application/pkcs7-mime message, decoded."""
    text = open(os.path.join(HERE, "thunderbird", path), "rb").read().replace(b"\r\n", b"\n")
    body = text.split(b"\n\n", 1)[1]
    return base64.b64decode(b"".join(body.split()))


def eml_detached_sig(path):
    """The signature part of a multipart/signed message, decoded."""
    text = open(os.path.join(HERE, "thunderbird", path), "rb").read().replace(b"\r\n", b"\n")
    sig = text.split(b"filename=smime.p7s\n", 1)[1]
    sig = sig.split(b"\n\n", 1)[1].split(b"\n--", 1)[0]
    return base64.b64decode(b"".join(sig.split()))


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    rng = random.Random(5652)
    sources = {
        "opaque": eml_cms("smime/alice.sig.SHA256.opaque.eml"),          # NSS BER signed
        "detached": eml_detached_sig("smime/alice.dsig.SHA256.multipart.eml"),
        "env": eml_cms("smime/alice.env.eml"),                           # NSS BER enveloped
        "ecdh": eml_cms("smime-interop/fran-ec_ossl-aes128-sha256.env"), # OpenSSL DER KARI
        "oaep": eml_cms("smime-interop/fran-oaep-label_ossl.env"),
    }
    files = {}

    # Truncations at many offsets (a truncated BER element never parses).
    for name, data in sources.items():
        cuts = sorted(set([0, 1, 2, 5, 11, 17, len(data) // 3, len(data) // 2,
                           len(data) - 40, len(data) - 2, len(data) - 1] +
                          [rng.randrange(1, len(data)) for _ in range(4)]))
        for cut in cuts:
            files["trunc-%s-%05d.ber" % (name, cut)] = data[:cut]

    # Random bytes, and random bytes behind a plausible ContentInfo start.
    for i in range(6):
        files["random-%d.bin" % i] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 7, 64, 500, 3000])))
    for i, oid in enumerate([sources["opaque"][2:15], sources["env"][2:15]]):
        files["random-after-oid-%d.bin" % i] = b"\x30\x80" + oid + bytes(rng.randrange(256) for _ in range(300))

    # Lying lengths: outer length too long or too short, inner lengths off by one, a
    # length of 2^32-1, a non-minimal long form, an indefinite length without EOC.
    env = sources["ecdh"]  # DER: 30 82 LL LL ...
    files["len-outer-long.der"] = env[:2] + (int.from_bytes(env[2:4], "big") + 1).to_bytes(2, "big") + env[4:]
    files["len-outer-short.der"] = env[:2] + (int.from_bytes(env[2:4], "big") - 1).to_bytes(2, "big") + env[4:]
    files["len-huge.der"] = b"\x30\x84\xff\xff\xff\xff" + env[4:]
    files["len-9-octets.der"] = b"\x30\x89" + b"\x00" * 8 + b"\x10" + env[4:]
    files["len-indefinite-no-eoc.ber"] = b"\x30\x80" + env[4:]
    files["len-primitive-indefinite.ber"] = b"\x30\x80\x06\x80" + env[6:] + b"\x00\x00"
    # Inner lying lengths: bump the length byte of the first few short-form elements.
    spots = [i for i in range(4, 200) if env[i] in (0x02, 0x04, 0x06, 0x30, 0x31) and env[i + 1] < 0x7f]
    for k, i in enumerate(spots[:6]):
        b = bytearray(env)
        b[i + 1] += 1 if k % 2 == 0 else -1 if b[i + 1] > 0 else 1
        files["len-inner-%d.der" % k] = bytes(b)
    files["eoc-misplaced.ber"] = b"\x30\x80\x00\x00" + sources["opaque"][2:]
    files["trailing-garbage.ber"] = sources["opaque"] + b"\x01\x02\x03"

    # Wrong OIDs: the content type, the digest algorithm, the signature algorithm, the
    # cipher, the key transport and the KDF, replaced by unknown or wrong ones.
    def replace(data, old, new, tag):
        assert old in data, tag
        return data.replace(old, new, 1)
    signed_oid = bytes.fromhex("2a864886f70d010702")
    data_oid = bytes.fromhex("2a864886f70d010701")
    sha256 = bytes.fromhex("608648016503040201")
    rsa = bytes.fromhex("2a864886f70d010101")
    aes128cbc = bytes.fromhex("608648016503040102")
    files["oid-content-type-data.ber"] = replace(sources["opaque"], signed_oid, data_oid, "ct")
    files["oid-content-type-unknown.ber"] = replace(sources["opaque"], signed_oid, bytes.fromhex("2a864886f70d0107ff"), "ct2")
    files["oid-digest-unknown.ber"] = sources["opaque"].replace(sha256, bytes.fromhex("6086480165030402ff"))
    files["oid-sigalg-unknown.ber"] = sources["opaque"].replace(rsa, bytes.fromhex("2a864886f70d0101ff"))
    files["oid-cipher-unknown.der"] = replace(sources["ecdh"], aes128cbc, bytes.fromhex("60864801650304017f"), "cipher")
    files["oid-kdf-unknown.der"] = replace(sources["ecdh"], bytes.fromhex("2b8104010b01"), bytes.fromhex("2b8104010b7f"), "kdf")
    files["oid-oaep-unknown.der"] = replace(sources["oaep"], bytes.fromhex("2a864886f70d010107"), bytes.fromhex("2a864886f70d0101fe"), "oaep")
    files["oid-enveloped-as-signed.ber"] = replace(sources["env"], bytes.fromhex("2a864886f70d010703"), signed_oid, "env")
    files["oid-not-an-oid.ber"] = replace(sources["opaque"], b"\x06\x09" + signed_oid, b"\x04\x09" + signed_oid, "tag")

    # Deep nesting: indefinite and definite, SEQUENCE and [0], and under a real header.
    files["deep-indefinite-seq.ber"] = b"\x30\x80" * 5000 + b"\x00\x00" * 5000
    files["deep-indefinite-ctx.ber"] = b"\xa0\x80" * 10000
    inner = b"\x05\x00"
    for _ in range(300):
        inner = tlv(0x30, inner)
    files["deep-definite-seq.der"] = inner
    files["deep-under-contentinfo.ber"] = b"\x30\x80" + sources["opaque"][2:15] + b"\xa0\x80" * 3000
    files["empty.bin"] = b""
    files["one-byte.bin"] = b"\x30"
    files["high-tag-number.ber"] = b"\x3f\xff\xff\xff\xff\x7f\x00"

    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("%d files in %s" % (len(files), OUT))


if __name__ == "__main__":
    main()
