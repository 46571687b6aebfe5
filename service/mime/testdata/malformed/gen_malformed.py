#!/usr/bin/env python3
"""gen_malformed.py: writes the adversarial MIME corpus that mime_malformed_test
parses (run once; the outputs are kept in the repository so that the test does not
depend on Python). Deterministic: same files on every run.

    cd service/mime/testdata/malformed && python3 gen_malformed.py

Each case is a file NNN-name.eml and a line of expected.tsv:
    file <TAB> parse expectation <TAB> S/MIME expectation
parse: "ok" (a tree, the test then runs every API over it) or "CODE:substring" (the
error mime_parse must give). S/MIME: "-" (whatever classify says, nothing may crash),
"none", "signed-ok", "signed-err:substring", "pkcs7-ok", "pkcs7-err:substring".
"""
import os
import random

CASES = []


def case(name, data, parse="ok", smime="-"):
    if isinstance(data, str):
        data = data.encode("latin-1")
    CASES.append((name, data, parse, smime))


SIG_CT = ('Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
          'micalg=sha-256; boundary="b"\r\n\r\n')
SIGPART = ("--b\r\nContent-Type: application/pkcs7-signature\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCA\r\n")


def nested_multipart(levels, boundary=lambda i: "b%d" % i):
    head = "".join("Content-Type: multipart/mixed; boundary=%s\n\n--%s\n"
                   % (boundary(i), boundary(i)) for i in range(levels))
    tail = "".join("--%s--\n" % boundary(i) for i in reversed(range(levels)))
    return head + "\nleaf\n" + tail


# Nesting.
case("deep-9", nested_multipart(9), "RESOURCE_EXHAUSTED:nested deeper than 8 levels")
case("deep-8", nested_multipart(8))
case("deep-1000", nested_multipart(1000), "RESOURCE_EXHAUSTED:nested deeper than 8 levels")
case("deep-rfc822-50", "Content-Type: message/rfc822\n\n" * 50 + "leaf\n",
     "RESOURCE_EXHAUSTED:nested deeper than 8 levels")
case("deep-same-boundary", nested_multipart(20, lambda i: "same"))
case("deep-signed-9", "".join(
    'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
    "boundary=s%d\n\n--s%d\n" % (i, i) for i in range(9)) + "\nx\n",
    "RESOURCE_EXHAUSTED:nested deeper than 8 levels")

# Boundaries.
case("unclosed", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n")
case("unclosed-signed", SIG_CT + "--b\r\n\r\ncontent\r\n" + SIGPART, smime="signed-ok")
case("signed-no-delimiter", SIG_CT + "no delimiter at all\r\n",
     smime="signed-err:has 0 parts")
case("prefix-outer-shorter",
     "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
     "Content-Type: multipart/mixed; boundary=aa\n\n--aa\n\nx\n--aa--\n--a--\n")
case("prefix-outer-longer",
     "Content-Type: multipart/mixed; boundary=aa\n\n--aa\n"
     "Content-Type: multipart/mixed; boundary=a\n\n--a\n\nx\n--aa\n\ny\n--aa--\n")
case("boundary-empty", "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\nx\n----\n")
case("boundary-2000", "Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\n\nx\n"
     % ("z" * 2000, "z" * 2000))
case("boundary-spaces", 'Content-Type: multipart/mixed; boundary="a b  c "\n\n--a b  c \n\nx\n--a b  c --\n')
case("boundary-nul", b"Content-Type: multipart/mixed; boundary=\"a\x00b\"\n\n--a b\n\nx\n--a\x00b\n\ny\n")
case("boundary-trailing-garbage", "Content-Type: multipart/mixed; boundary=b\n\n--b garbage\n\nx\n"
     "--b\t \n\ny\n--b--garbage\nepilogue\n")
case("boundary-at-eof", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b")
case("boundary-only", "Content-Type: multipart/mixed; boundary=b\n\n--b--")
case("signed-without-boundary", 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"\n\nx\n',
     smime="signed-err:no usable boundary")
case("parts-100k", "Content-Type: multipart/mixed; boundary=b\n\n" + "--b\n" * 100000 + "--b--\n",
     "RESOURCE_EXHAUSTED:more than 10000 MIME parts")
case("parts-10k-nested", "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
     "Content-Type: multipart/mixed; boundary=i\n\n" + "--i\n" * 9999 + "--i--\n--o--\n",
     "RESOURCE_EXHAUSTED:more than 10000 MIME parts")
case("parts-9997", "Content-Type: multipart/mixed; boundary=b\n\n" + "--b\n\nx\n" * 9997 + "--b--\n")
case("not-delimiters-10k", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n"
     + "--bX\n" * 10000 + "--b--\n")
case("dash-lines-10k", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n" + "--\n-\n---b\n" * 10000)

# Headers.
case("header-line-1mib", "Subject: " + "x" * (1024 * 1024) + "\n\nbody\n",
     "RESOURCE_EXHAUSTED:header block of MIME part 0 is larger than 1048576 bytes")
case("header-nul", b"Subj\x00ect: a\x00b\r\nContent-Type: text/pl\x00ain\r\nX: \x00\r\n\r\nbody\x00\r\n")
case("header-no-colon", "this is not a header\nneither is this\n\nbody\n")
case("header-continuation-first", " folded first\nSubject: x\n\nbody\n")
case("header-eof", "Subject: no newline at the end")
case("header-8bit", b"Subject: caf\xe9 \xc3\xa9 \xff\xfe\nFrom: J\xfcrgen <j@x.de>\n"
     b"Content-Type: text/plain; name*=utf-8''%FF%FE%C3; title*0*=x'y'%; title*1=z\n\nbody\n")
case("header-continuation-20k", "Subject: a\n" + " b\n" * 20000 + "\nbody\n")
case("header-colon-only", ":\n:::\n: x\n\nbody\n")
case("no-headers", "just a body line\nand another\n")
case("empty", "")
case("only-lf", "\n")
case("only-crlf-crlf", "\r\n\r\n")
case("cr-only-line-ends", "Subject: x\rContent-Type: multipart/mixed; boundary=b\r\r--b\r\rx\r--b--\r")
case("mixed-line-ends", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\n\r\n--b\r\n\nx\n--b\r\n\r\ny\r\r\n--b--\n")

# Content-Type parameters.
case("params-3k", "Content-Type: text/plain" + "".join("; p%d=v%d" % (i, i) for i in range(3000)) + "\n\nx\n")
case("params-same-name-3k", "Content-Type: text/plain" + "; p=v" * 3000 + "\n\nx\n")
case("rfc2231-huge-index", "Content-Type: text/plain; name*999999=a; name*0=b; name*99999999999=c\n\nx\n")
case("rfc2231-5000-reversed", "Content-Type: text/plain" + "".join(
    "; name*%d=s%d" % (i, i) for i in reversed(range(5000))) + "\n\nx\n")
case("param-unterminated-quote", 'Content-Type: multipart/mixed; boundary="b\n\n--b\n\nx\n--b--\n')
case("param-unterminated-comment", "Content-Type: text/plain (comment; charset=utf-8\n\nx\n")
case("comments-nested-20k", "Content-Type: text/plain " + "(" * 20000 + ")" * 20000 + "; a=b\n\nx\n")
case("encoded-words-garbage", "Subject: " + "=?" * 10000 + " =?utf-8?q?" + "=?x?q?" * 10000
     + " =?utf-8?b?" + "A" * 10000 + "\n\nx\n")

# S/MIME shapes gone wrong.
case("signed-1-part", SIG_CT + "--b\r\n\r\nonly content\r\n--b--\r\n", smime="signed-err:has 1 part")
case("signed-3-parts", SIG_CT + "--b\r\n\r\ncontent\r\n" + SIGPART + "--b\r\n\r\nextra\r\n--b--\r\n",
     smime="signed-ok")
case("signed-bad-base64", SIG_CT + "--b\r\n\r\ncontent\r\n--b\r\n"
     "Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n"
     "MIAG!!!\r\n--b--\r\n", smime="signed-err:invalid base64: byte 0x21")
case("signed-empty-signature", SIG_CT + "--b\r\n\r\ncontent\r\n--b\r\n\r\n--b--\r\n",
     smime="signed-err:is empty")
case("signed-no-protocol-text", "Content-Type: multipart/signed; boundary=b\n\n--b\n\nx\n--b\n"
     "Content-Type: text/plain\n\ny\n--b--\n", smime="none")
case("signed-lf-content", "Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; "
     "boundary=b\n\n--b\nContent-Type: text/plain\n\nline\n--b\n\nMIA=\n--b--\n", smime="signed-ok")
case("pkcs7-empty", "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
     "Content-Transfer-Encoding: base64\n\n", smime="pkcs7-err:is empty")
case("pkcs7-bad-base64", "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
     "Content-Transfer-Encoding: base64\n\nMIAG\x80\x81garbage\n", smime="pkcs7-err:invalid base64: byte 0x80")
case("pkcs7-padding-only", "Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: base64\n\n====\n",
     smime="pkcs7-err:misplaced '='")
case("pkcs7-qp-garbage", b"Content-Type: application/x-pkcs7-mime\nContent-Transfer-Encoding: quoted-printable\n\n"
     b"=30=80=ZZ\xff\x00=\n", smime="pkcs7-ok")
case("pkcs7-uuencode", "Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n",
     smime="pkcs7-err:unsupported Content-Transfer-Encoding 'x-uuencode'")
case("pkcs7-truncated-der", b"Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: binary\n\n\x30\x84\xff",
     smime="pkcs7-ok")
case("p7m-octet-garbage", "Content-Type: application/octet-stream; name=\"SMIME.P7M\"\n\n\x01\x02\x03\n",
     smime="pkcs7-ok")
case("multipart-base64", "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n"
     "LS1iCgp4Ci0tYi0tCg==\n")
case("rfc822-base64", "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n")
case("rfc822-empty", "Content-Type: message/rfc822\n\n")
case("digest-nested", "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
     "Content-Type: multipart/digest; boundary=e\n\n--e\n\nSubject: inner\n\nx\n--e--\n--d--\n")

# Addresses and ids (exercised on every input; these make them interesting).
case("addresses-weird", "From: \"unterminated <a@b.c>, (comment <x@y.z>\nTo: " + "g:" * 5000
     + "a@b.c;" * 10 + "\nCc: <<<<@@@>>>>, ,,,;;;, \"\\\nSender: @\nMessage-ID: <<<>>>\n\nx\n")
case("addresses-5k", "To: " + ", ".join("User %d <u%d@x.org>" % (i, i % 2000) for i in range(5000)) + "\n\nx\n")

# Random bytes (fixed seeds).
for seed in range(4):
    rnd = random.Random(seed)
    alphabet = b"\r\n-:;=\"()<>@ \t\x00abB/" + bytes(range(128, 136))
    body = bytes(rnd.choice(alphabet) for _ in range(20000))
    if seed % 2:
        body = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + body).replace(b"B", b"--b\n")
    case("random-%d" % seed, body)


def main():
    for f in os.listdir("."):
        if f.endswith(".eml"):
            os.remove(f)
    with open("expected.tsv", "w") as tsv:
        tsv.write("# file\tparse\tsmime (see gen_malformed.py)\n")
        for i, (name, data, parse, smime) in enumerate(CASES):
            fname = "%03d-%s.eml" % (i + 1, name)
            with open(fname, "wb") as out:
                out.write(data)
            tsv.write("%s\t%s\t%s\n" % (fname, parse, smime))
    print("%d cases" % len(CASES))


if __name__ == "__main__":
    main()
