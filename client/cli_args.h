/* cli_args.h: command-line flags -> a protobuf-c request message, for any message
 * descriptor. This is what makes smimectl generic: every field of a request is a flag
 * named after it, so a field or RPC added to a .proto needs no code here.
 *
 * Rules (DESIGN.md section 6):
 *   --field VALUE or --field=VALUE; '-' and '_' are the same in names.
 *   bool: --flag alone is true; --flag=true / --flag=false (never a separate word).
 *   repeated: give the flag once per element.
 *   bytes: --data @FILE reads FILE, --data @- reads stdin, --data @@x is the text "@x",
 *     anything else is the text itself.
 *   string: the text, which must be UTF-8.
 *   enum: the value's full name or the name without the enum's common prefix,
 *     case-insensitive, '-' for '_' ("incoming", "DIRECTION_INCOMING").
 *   google.protobuf.Timestamp: RFC 3339 ("2026-11-29T10:00:00Z").
 *   nested messages: dots (--options.digest sha384). For a repeated message the flags
 *     address its last element, and a flag whose field is already set in the last
 *     element starts a new element, so "--g.group a --g.sign --g.group b" makes two.
 *   oneof members: setting one selects it (so --enabled=false is sent as false);
 *     setting two members of one oneof is an error.
 *   numbers: decimal, range-checked for the field's type.
 *   a non-repeated field given twice is an error. */
#ifndef SMIMED_CLIENT_CLI_ARGS_H
#define SMIMED_CLIENT_CLI_ARGS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* CLI_MAX_DEPTH bounds how deep dotted flags go, so that recursive message types do
 * not make help text or flag suggestions endless. */
#define CLI_MAX_DEPTH 8

/* CLI_EXTRA_FLAG is a flag that is not a request field: smimectl's global flags, which
 * may also follow the subcommand. A request field of the same name wins. */
typedef struct cli_extra_flag_st {
  const char *name;  /* without "--" */
  int takes_value;   /* 1: --name VALUE or --name=VALUE; 0: --name alone */
  const char *value; /* set by cli_args_parse: the last value given (into argv) */
  int given;         /* set by cli_args_parse: how many times it was given */
} CLI_EXTRA_FLAG;

/* cli_args_parse builds a |desc| message from the flags |argv[0..argc)|. On success it
 * returns 1, sets |*out_msg| (free with protobuf_c_message_free_unpacked(m, NULL)) and
 * fills the value/given members of |extra|. On failure it returns 0 and sets |*out_err|
 * to a message naming the flag and the problem (caller frees), e.g.
 * "--page-size: \"ten\" is not a valid int32 (a whole number)". */
int cli_args_parse(const ProtobufCMessageDescriptor *desc, int argc, char *const *argv,
                   CLI_EXTRA_FLAG *extra, size_t n_extra, ProtobufCMessage **out_msg,
                   char **out_err);

/* cli_args_resolve finds the fields a dotted flag name |path| (|len| bytes, e.g.
 * "options.digest", kebab or snake case) goes through in |desc|: on success it returns
 * 1, with |out_fields[0..*out_n)| from outermost to innermost. Every field but the last
 * is a message other than Timestamp. Returns 0 if |path| names no field or is deeper
 * than CLI_MAX_DEPTH. */
int cli_args_resolve(const ProtobufCMessageDescriptor *desc, const char *path, size_t len,
                     const ProtobufCFieldDescriptor *out_fields[CLI_MAX_DEPTH],
                     size_t *out_n);

/* cli_args_is_leaf returns 1 if |f| takes a value itself (scalar, string, bytes, enum,
 * Timestamp) rather than through dotted sub-flags (other messages). */
int cli_args_is_leaf(const ProtobufCFieldDescriptor *f);

#endif /* SMIMED_CLIENT_CLI_ARGS_H */
