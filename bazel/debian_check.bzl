"""debian_packages: a repository rule that fails the build when a pinned package differs."""

def _debian_packages_impl(rctx):
    problems = []
    lines = []
    for pkg, prefix in sorted(rctx.attr.packages.items()):
        res = rctx.execute(["dpkg-query", "-W", "-f=${Version}", pkg])
        installed = res.stdout.strip() if res.return_code == 0 else ""
        if installed == "":
            problems.append("  %s: not installed (expected %s*); run: apt-get install %s" % (pkg, prefix, pkg))
        elif not installed.startswith(prefix):
            problems.append("  %s: installed %s, expected %s*" % (pkg, installed, prefix))
        lines.append("%s %s" % (pkg, installed))
    if problems:
        fail("\nsmimed is pinned to Debian 12 package versions (bazel/debian_versions.bzl) " +
             "and this machine differs:\n" + "\n".join(problems) +
             "\nInstall the pinned versions (./scripts/setup.sh does it) or update the pins after testing.\n")
    rctx.file("versions.txt", "\n".join(lines) + "\n")
    rctx.file("BUILD", """package(default_visibility = ["//visibility:public"])
# Depending on :checked makes a target build only on the pinned package versions.
cc_library(name = "checked")
exports_files(["versions.txt"])
""")

debian_packages = repository_rule(
    implementation = _debian_packages_impl,
    attrs = {"packages": attr.string_dict(mandatory = True)},
    local = True,
)
