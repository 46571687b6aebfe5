"""The Debian 12 packages this build uses, pinned in one place.

Each entry maps a package to the version prefix the build was made and tested with.
A prefix (not the whole Debian version) so that Debian's security updates inside the
same upstream release still build; a different upstream release fails the build with
a message naming the package, the expected and the installed version.
"""

DEBIAN_PACKAGES = {
    "android-libboringssl-dev": "13.0.0+r24-",
    "bazel-bootstrap": "4.2.3+ds-",
    "grpc-proto": "0.0~git20230110.6956c0e-",
    "libgrpc-dev": "1.51.1-",
    "libpq-dev": "15.",
    "libprotobuf-c-dev": "1.4.1-",
    "postgresql-15": "15.",
    "protobuf-c-compiler": "1.4.1-",
    "protobuf-compiler": "3.21.12-",
}
