"""gen_api_md.py DESCRIPTOR_SET: writes docs/API.md, the API reference, to stdout from
the comments in protos/smime/v1/*.proto (the descriptor set built with source info).

docs/API.md is committed so that it can be read without building; //docs:api_md_test
fails when it no longer matches the protos (refresh with `bazel run //docs:update_api_md`).
"""

import sys

from google.protobuf import descriptor_pb2

# Paths in SourceCodeInfo (descriptor.proto field numbers).
MESSAGE, ENUM, SERVICE = 4, 5, 6
FIELD, NESTED, NESTED_ENUM, ONEOF = 2, 3, 4, 8
VALUE, METHOD = 2, 2

TYPES = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool",
         9: "string", 12: "bytes", 13: "uint32", 17: "sint32", 18: "sint64"}


def comments(fd):
    out = {}
    for loc in fd.source_code_info.location:
        text = loc.leading_comments.strip()
        if text:
            out[tuple(loc.path)] = " ".join(line.strip() for line in text.splitlines())
    return out


def type_name(f):
    if f.type in (11, 14):  # message, enum
        return "`%s`" % f.type_name.lstrip(".")
    return TYPES.get(f.type, str(f.type))


def emit_message(out, c, path, m, prefix):
    name = prefix + m.name
    out.append("### %s\n" % name)
    if c.get(path):
        out.append(c[path] + "\n")
    if m.field:
        out.append("| field | type | |")
        out.append("|---|---|---|")
        for i, f in enumerate(m.field):
            label = "repeated " if f.label == 3 else ""
            note = c.get(path + (FIELD, i), "")
            if f.HasField("oneof_index") and not note:
                note = c.get(path + (ONEOF, f.oneof_index), "")
            out.append("| `%s` | %s%s | %s |" % (f.name, label, type_name(f), note.replace("|", "\\|")))
        out.append("")
    for i, e in enumerate(m.enum_type):
        emit_enum(out, c, path + (NESTED_ENUM, i), e, name + ".")
    for i, n in enumerate(m.nested_type):
        emit_message(out, c, path + (NESTED, i), n, name + ".")


def emit_enum(out, c, path, e, prefix):
    out.append("### enum %s%s\n" % (prefix, e.name))
    if c.get(path):
        out.append(c[path] + "\n")
    out.append("| value | number | |")
    out.append("|---|---|---|")
    for i, v in enumerate(e.value):
        out.append("| `%s` | %d | %s |" % (v.name, v.number, c.get(path + (VALUE, i), "").replace("|", "\\|")))
    out.append("")


def main():
    fds = descriptor_pb2.FileDescriptorSet()
    with open(sys.argv[1], "rb") as f:
        fds.ParseFromString(f.read())
    out = ["# smimed API reference (smime.v1)", "",
           "Generated from the comments in `protos/smime/v1/*.proto` by `docs/gen_api_md.py`;",
           "do not edit by hand (`bazel run //docs:update_api_md` refreshes it).", ""]
    files = [fd for fd in fds.file if fd.name.startswith("smime/v1/")]
    for fd in files:
        c = comments(fd)
        for i, s in enumerate(fd.service):
            out.append("## service %s.%s\n" % (fd.package, s.name))
            if c.get((SERVICE, i)):
                out.append(c[(SERVICE, i)] + "\n")
            out.append("| RPC | request | response | |")
            out.append("|---|---|---|---|")
            for j, m in enumerate(s.method):
                out.append("| %s | `%s` | `%s` | %s |" % (m.name, m.input_type.lstrip("."),
                                                        m.output_type.lstrip("."),
                                                        c.get((SERVICE, i, METHOD, j), "")))
            out.append("")
    for fd in files:
        c = comments(fd)
        out.append("## %s\n" % fd.name)
        for i, e in enumerate(fd.enum_type):
            emit_enum(out, c, (ENUM, i), e, fd.package + ".")
        for i, m in enumerate(fd.message_type):
            emit_message(out, c, (MESSAGE, i), m, fd.package + ".")
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
