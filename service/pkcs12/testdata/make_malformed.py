#!/usr/bin/env python3
"""make_malformed.py: writes the malformed-input corpus into malformed/ next to it.

Run once by hand (python3 make_malformed.py); its output is kept in the repository so
that the test (//service/keystore:key_import_malformed_test) needs no Python. Every
file must be refused with INVALID_ARGUMENT by key_import_parse (password "nss") and by
p12_parse, without a crash and without running a long key derivation.

The inputs: truncations, bit flips and lying lengths of Thunderbird's Bob.p12 and
Fran.p12 (public MPL-2.0 test data, beside this script); random bytes (fixed seed);
PKCS#12 files and keys built here with a small DER encoder, each with one defect:
huge or negative iteration counts, huge salts, unknown algorithms, wrong IV and
digest lengths, too many bags, too deep nesting; and broken PEM. Deterministic: the
same script writes the same files.
"""
import os
import random
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "malformed")


# --- a small DER encoder -----------------------------------------------------------
def length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + length(len(content)) + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(*items):
    return tlv(0x31, b"".join(items))


def octet(b):
    return tlv(0x04, b)


def null():
    return b"\x05\x00"


def integer(n):
    if n == 0:
        return tlv(0x02, b"\x00")
    if n > 0:
        b = n.to_bytes((n.bit_length() + 8) // 8, "big")
    else:
        b = n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)
    return tlv(0x02, b)


def oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    body = [40 * parts[0] + parts[1]] + parts[2:]
    out = b""
    for v in body:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def ctx0(content):
    return tlv(0xA0, content)


def implicit0(content):
    return tlv(0x80, content)


DATA = "1.2.840.113549.1.7.1"
SIGNED = "1.2.840.113549.1.7.2"
ENVELOPED = "1.2.840.113549.1.7.3"
ENCRYPTED = "1.2.840.113549.1.7.6"
PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
SCRYPT = "1.3.6.1.4.1.11591.4.11"
HMAC_SHA256 = "1.2.840.113549.2.9"
AES256_CBC = "2.16.840.1.101.3.4.1.42"
PBE_3DES = "1.2.840.113549.1.12.1.3"
KEY_BAG = "1.2.840.113549.1.12.10.1.1"
SHROUDED_BAG = "1.2.840.113549.1.12.10.1.2"
CERT_BAG = "1.2.840.113549.1.12.10.1.3"
SECRET_BAG = "1.2.840.113549.1.12.10.1.5"
SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6"
X509_CERT = "1.2.840.113549.1.9.22.1"
SHA256 = "2.16.840.1.101.3.4.2.1"
PBMAC1 = "1.2.840.113549.1.5.14"
RSA = "1.2.840.113549.1.1.1"
EC = "1.2.840.10045.2.1"


def pfx(infos, mac=None, version=3):
    auth_safe = seq(*infos)
    items = [integer(version), seq(oid(DATA), ctx0(octet(auth_safe)))]
    if mac is not None:
        items.append(mac)
    return seq(*items)


def mac_data(iterations=2048, digest_len=32, salt=b"\x01" * 8, md=SHA256):
    return seq(seq(seq(oid(md), null()), octet(b"\x00" * digest_len)), octet(salt),
               integer(iterations))


def data_info(*bags):
    return seq(oid(DATA), ctx0(octet(seq(*bags))))


def enc_info(alg, ciphertext=b"\x00" * 32):
    return seq(oid(ENCRYPTED), ctx0(seq(integer(0), seq(oid(DATA), alg,
                                                        implicit0(ciphertext)))))


def pbes2(iterations=2048, salt=b"\x02" * 16, cipher=AES256_CBC, iv=b"\x03" * 16,
          prf=HMAC_SHA256, kdf=None):
    if kdf is None:
        kdf = seq(oid(PBKDF2), seq(octet(salt), integer(iterations),
                                   seq(oid(prf), null())))
    return seq(oid(PBES2), seq(kdf, seq(oid(cipher), octet(iv))))


def pkcs12_pbe(iterations=2048, salt=b"\x02" * 8, alg=PBE_3DES):
    return seq(oid(alg), seq(octet(salt), integer(iterations)))


def bag(bag_oid, value, attrs=b""):
    return seq(oid(bag_oid), ctx0(value), attrs)


def shrouded(alg, ciphertext=b"\x00" * 32):
    return bag(SHROUDED_BAG, seq(alg, octet(ciphertext)))


def pem(name, body_b64, headers=""):
    return ("-----BEGIN %s-----\n%s%s\n-----END %s-----\n" %
            (name, headers, body_b64, name)).encode()


def main():
    rnd = random.Random(20261129)
    bob = open(os.path.join(HERE, "Bob.p12"), "rb").read()
    fran = open(os.path.join(HERE, "Fran.p12"), "rb").read()
    files = {}

    # Truncations of an NSS (BER, PBES2) and a DER (3DES) file.
    for n in [0, 1, 2, 4, 20, 100, 500, 1000, 2000, 3000, len(bob) - 80, len(bob) - 1]:
        files["bob-trunc-%04d.p12" % n] = bob[:n]
    for n in [3, 50, 700, 1500, len(fran) - 30, len(fran) - 1]:
        files["fran-trunc-%04d.p12" % n] = fran[:n]

    # Bit flips: MAC failures or broken structure.
    for off in [0, 1, 5, 30, 400, 1800, 3500, len(bob) - 40, len(bob) - 10, len(bob) - 3]:
        b = bytearray(bob)
        b[off] ^= 0x10
        files["bob-flip-%04d.p12" % off] = bytes(b)
    files["bob-trailing.p12"] = bob + b"\x00\x00garbage"

    # Lying lengths.
    files["seq-claims-4gib.der"] = b"\x30\x84\xff\xff\xff\xf0" + bytes(64)
    files["seq-claims-more.der"] = b"\x30\x82\x10\x00" + bytes(100)
    files["fran-outer-len-short.p12"] = fran[:2] + bytes([fran[2], fran[3] - 1]) + fran[4:]
    files["indefinite-deep.der"] = b"\x30\x80" * 5000
    files["indefinite-unterminated.p12"] = b"\x30\x80\x02\x01\x03\x30\x80\x06\x09" + bytes(9)
    files["octet-constructed-deep.der"] = b"\x30\x80" + b"\x24\x80" * 3000
    files["integer-len-overflow.der"] = b"\x30\x0a\x02\x88\xff\xff\xff\xff\xff\xff\xff\xff"

    # Random bytes.
    for i, n in enumerate([1, 7, 64, 256, 1024, 4096]):
        files["random-%d.bin" % i] = bytes(rnd.getrandbits(8) for _ in range(n))
    for i, n in enumerate([16, 300, 2000]):
        body = bytes(rnd.getrandbits(8) for _ in range(n))
        files["random-seq-%d.der" % i] = b"\x30" + length(n) + body

    # Crafted PKCS#12: one defect each.
    key_bag = shrouded(pbes2())
    files["mac-iter-huge.p12"] = pfx([data_info(key_bag)], mac_data(iterations=2**31 - 1))
    files["mac-iter-2pow64.p12"] = pfx([data_info(key_bag)], mac_data(iterations=2**64))
    files["mac-iter-negative.p12"] = pfx([data_info(key_bag)], mac_data(iterations=-5))
    files["mac-iter-zero.p12"] = pfx([data_info(key_bag)], mac_data(iterations=0))
    files["mac-salt-huge.p12"] = pfx([data_info(key_bag)], mac_data(salt=b"\x05" * 5000))
    files["mac-digest-short.p12"] = pfx([data_info(key_bag)], mac_data(digest_len=7))
    files["mac-md5.p12"] = pfx([data_info(key_bag)],
                               mac_data(md="1.2.840.113549.2.5", digest_len=16))
    files["mac-pbmac1.p12"] = pfx([data_info(key_bag)], mac_data(md=PBMAC1))
    files["mac-wrong.p12"] = pfx([data_info(key_bag)], mac_data(iterations=1))
    files["version-4.p12"] = pfx([data_info(key_bag)], version=4)
    files["authsafe-signed.p12"] = seq(integer(3), seq(oid(SIGNED), ctx0(seq())))
    files["content-enveloped.p12"] = pfx([seq(oid(ENVELOPED), ctx0(seq(integer(0))))])
    files["pbkdf2-iter-huge.p12"] = pfx([enc_info(pbes2(iterations=10**9))])
    files["pbkdf2-iter-negative.p12"] = pfx([data_info(shrouded(pbes2(iterations=-1)))])
    files["pbkdf2-salt-huge.p12"] = pfx([data_info(shrouded(pbes2(salt=b"\x07" * 4096)))])
    files["pbes2-iv-short.p12"] = pfx([data_info(shrouded(pbes2(iv=b"\x01" * 5)))])
    files["pbes2-cipher-unknown.p12"] = pfx([data_info(shrouded(
        pbes2(cipher="1.2.3.4.5")))])
    files["pbes2-prf-unknown.p12"] = pfx([data_info(shrouded(pbes2(prf="1.2.3.4")))])
    files["pbes2-scrypt-huge.p12"] = pfx([data_info(shrouded(pbes2(kdf=seq(
        oid(SCRYPT), seq(octet(b"\x01" * 16), integer(2**30), integer(8), integer(1))))))])
    files["pbes2-scrypt-n-odd.p12"] = pfx([data_info(shrouded(pbes2(kdf=seq(
        oid(SCRYPT), seq(octet(b"\x01" * 16), integer(1000), integer(8), integer(1))))))])
    files["pbes2-ciphertext-partial-block.p12"] = pfx([data_info(shrouded(
        pbes2(), ciphertext=b"\x00" * 33))])
    files["pbes2-ciphertext-empty.p12"] = pfx([data_info(shrouded(pbes2(), ciphertext=b""))])
    files["pkcs12pbe-iter-huge.p12"] = pfx([enc_info(pkcs12_pbe(iterations=5 * 10**6))])
    files["pbe-unknown.p12"] = pfx([enc_info(pkcs12_pbe(alg="1.2.840.113549.1.12.1.99"))])
    files["bags-too-many.p12"] = pfx([data_info(*[bag(SECRET_BAG, seq())] * 1001)])
    nested = seq(bag(KEY_BAG, seq(integer(0))))
    for _ in range(20):
        nested = seq(bag(SAFE_CONTENTS_BAG, nested))
    files["bags-nested-deep.p12"] = pfx([seq(oid(DATA), ctx0(octet(nested)))])
    files["bag-attrs-not-set.p12"] = pfx([data_info(bag(KEY_BAG, seq(), octet(b"x")))])
    files["certbag-not-der.p12"] = pfx([data_info(bag(CERT_BAG, seq(
        oid(X509_CERT), ctx0(octet(b"\x30\x05\x01"))))), ])
    files["keybag-garbage.p12"] = pfx([data_info(bag(KEY_BAG, seq(integer(0), seq(
        oid(RSA), null()), octet(b"\x30\x03\x02\x01\x00"))))])
    files["no-keys-empty.p12"] = pfx([data_info()])
    files["content-unknown.p12"] = pfx([seq(oid("1.2.3"), ctx0(octet(b"")))])

    # Keys.
    files["pkcs8-unknown-alg.der"] = seq(integer(0), seq(oid("1.2.3.4.5.6")), octet(b"\x00"))
    files["pkcs8-ec-bad-curve.der"] = seq(integer(0), seq(oid(EC), oid("1.2.3.4")),
                                          octet(seq(integer(1), octet(b"\x01" * 32))))
    files["pkcs8-rsa-garbage.der"] = seq(integer(0), seq(oid(RSA), null()),
                                         octet(b"\x30\x03\x02\x01\x00"))
    files["pkcs1-zeros.der"] = seq(*[integer(0)] + [integer(1)] * 8)
    files["sec1-bad.der"] = seq(integer(1), octet(b"\x00" * 32), ctx0(oid("1.2.840.10045.3.1.7")))
    files["epki-iter-huge.der"] = seq(pbes2(iterations=2**40), octet(b"\x00" * 32))
    files["epki-3des-iter-huge.der"] = seq(pkcs12_pbe(iterations=10**7), octet(b"\x00" * 32))

    # PEM.
    files["pem-bad-base64.pem"] = pem("PRIVATE KEY", "MIIE!!!!not-base64****")
    files["pem-no-end.pem"] = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
    files["pem-random-key.pem"] = pem("PRIVATE KEY", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJ")
    files["pem-random-encrypted.pem"] = pem("ENCRYPTED PRIVATE KEY",
                                            "MB4wCgYIKoZIhvcNAgkEEAAAAAAAAAAAAAAAAAAAAAA=")
    files["pem-rsa-bad-dekinfo.pem"] = pem(
        "RSA PRIVATE KEY", "AAAAAAAAAAAAAAAAAAAAAA==",
        "Proc-Type: 4,ENCRYPTED\nDEK-Info: NOPE-CBC,00\n\n")
    files["pem-ec-garbage.pem"] = pem("EC PRIVATE KEY", "MAMCAQE=")
    files["pem-only-params.pem"] = pem("EC PARAMETERS", "BggqhkjOPQMBBw==")
    files["pem-epki-iter-huge.pem"] = pem(
        "ENCRYPTED PRIVATE KEY",
        __import__("base64").b64encode(files["epki-iter-huge.der"]).decode())
    files["text.txt"] = b"this is not a key\n"

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), OUT))


if __name__ == "__main__":
    main()
