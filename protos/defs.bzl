"""Helpers for protos/BUILD: protoc-c code generation."""

def pbc_outs(protos, ext = None):
    """pbc_outs returns the .pb-c.c/.pb-c.h files protoc-c writes for protos (one ext if given)."""
    exts = [ext] if ext else [".pb-c.c", ".pb-c.h"]
    return [p[:-len(".proto")] + e for p in protos for e in exts]

def protoc_c(proto, root = None, deps = []):
    """protoc_c generates C for one proto: from this package (deps: the protos it imports), or from root (a system dir)."""
    name = "pbc_" + proto.replace("/", "_").replace(".", "_")
    if root:
        native.genrule(
            name = name,
            outs = pbc_outs([proto]),
            cmd = "protoc-c -I%s -I/usr/include --c_out=$(RULEDIR) %s/%s" % (root, root, proto),
        )
    else:
        native.genrule(
            name = name,
            srcs = [proto] + [d for d in deps if d != proto],
            outs = pbc_outs([proto]),
            cmd = "protoc-c -I%s -I/usr/include --c_out=$(RULEDIR) $(location %s)" % (native.package_name(), proto),
        )
