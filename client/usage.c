/* usage.c: see usage.h. */
#include "client/usage.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli_args.h"
#include "client/names.h"
#include "client/text.h"
#include "client/timestamp.h"

/* WIDTH is the width help text is wrapped to. */
#define WIDTH 80

/* TYPE_COL is the column where a flag's type starts in a subcommand's help. */
#define TYPE_COL 36

/* NAME_COL is the column where descriptions start in the subcommand list. */
#define NAME_COL 26

const USAGE_FLAG usage_global_flags[] = {
    {"addr", "ADDR",
     "Server address: unix:PATH, HOST:PORT or dns:///HOST:PORT. Default: $SMIMED_ADDR, "
     "else " SMIMECTL_DEFAULT_ADDR "."},
    {"deadline", "SECONDS", "Give up after this many seconds (default 30)."},
    {"tls-cert", "FILE",
     "Client certificate (PEM) for mutual TLS, with --tls-key; the server gives you the "
     "role (admin or service) of this certificate."},
    {"tls-key", "FILE", "Private key (PEM) of --tls-cert."},
    {"tls-ca", "FILE",
     "CA certificates (PEM) the server's certificate must chain to (default: the "
     "system's). Without any --tls-* flag the channel is not encrypted: fine for unix: "
     "sockets and loopback."},
    {"tls-server-name", "NAME",
     "Name to expect in the server's certificate when --addr uses another name or an IP "
     "address."},
    {"raw", "FIELD",
     "Write that bytes or string field of the response (dotted path for nested fields) "
     "to stdout as it is, instead of the JSON."},
    {"help", NULL, "This text; after a subcommand, the flags of that subcommand."},
    {"version", NULL, "Print the version of smimectl."},
};

const size_t usage_n_global_flags =
    sizeof(usage_global_flags) / sizeof(usage_global_flags[0]);

const USAGE_EXAMPLE usage_examples[] = {
    {"update-settings", "smimectl update-settings --enabled",
     "Switch the S/MIME integration on (--enabled=false switches it off)."},
    {"update-settings",
     "smimectl update-settings --group-defaults.group support "
     "--group-defaults.default-sign --group-defaults.group billing "
     "--group-defaults.default-sign --group-defaults.default-encrypt",
     "Set the defaults of two groups: a flag given again starts the next group."},
    {"get-settings", "smimectl get-settings",
     "Show the settings and whether the worker processes are up."},
    {"import-certificates",
     "smimectl import-certificates --data @cert.p12 --password secret",
     "Import a certificate and its private key from a PKCS#12 file."},
    {"import-certificates", "smimectl import-certificates --data @- < chain.pem",
     "Import the certificates of a PEM file, read from stdin."},
    {"list-certificates", "smimectl list-certificates --email alice@example.com --usable",
     "List the usable certificates of an address."},
    {"export-certificate",
     "smimectl export-certificate --sha256-fingerprint 3f2a... --raw data > cert.pem",
     "Save a certificate as PEM."},
    {"sign-encrypt",
     "smimectl sign-encrypt --message @mail.eml --sign --encrypt "
     "--options.cipher aes256-gcm --raw message > signed.eml",
     "Sign and encrypt a message, and save the result."},
    {"decrypt-verify", "smimectl decrypt-verify --message @received.eml",
     "Open an incoming message and show each S/MIME layer."},
    {"list-logs", "smimectl list-logs --direction admin --page-size 10",
     "The last ten admin actions."},
    {"list-logs", "smimectl list-logs --status failure --start-time 2026-11-29T00:00:00Z",
     "Failures since a given time (RFC 3339)."},
    {"check", "smimectl --addr localhost:8443 --tls-ca ca.pem check",
     "Ask the server at another address whether it is serving."},
};

const size_t usage_n_examples = sizeof(usage_examples) / sizeof(usage_examples[0]);

/* first_sentence returns the first sentence of |comment| on one line, with a leading
 * |name| (the comment convention "UpdateSettings changes...") turned into a capital
 * ("Changes..."), for the one-line descriptions. Caller frees. */
static char *first_sentence(const char *comment, const char *name) {
  STRBUF b;
  strbuf_init(&b);
  size_t n = strlen(name);
  int capitalize = 0;
  if (strncmp(comment, name, n) == 0 && comment[n] == ' ' &&
      islower((unsigned char)comment[n + 1])) {
    comment += n + 1;
    capitalize = 1;
  }
  int space = 0;
  for (const char *p = comment; *p != '\0'; p++) {
    if (isspace((unsigned char)*p)) {
      space = b.len > 0;
      continue;
    }
    if (space) {
      strbuf_putc(&b, ' ');
      space = 0;
    }
    strbuf_putc(&b, capitalize && b.len == 0 ? (char)toupper((unsigned char)*p) : *p);
    // A period before white space ends the sentence, unless it ends "e.g." or "i.e.".
    if (*p == '.' && (p[1] == '\0' || isspace((unsigned char)p[1])) &&
        !(b.len >= 4 && (strcmp(b.data + b.len - 4, "e.g.") == 0 ||
                         strcmp(b.data + b.len - 4, "i.e.") == 0))) {
      break;
    }
  }
  return strbuf_finish(&b);
}

/* method_summary returns the one-line description of |cmd|. Caller frees. */
static char *method_summary(const COMMAND *cmd, const PROTO_HELP *help) {
  char *comment = help != NULL ? proto_help_method_comment(help, cmd->service->name,
                                                           cmd->method->name)
                               : NULL;
  char *ret = NULL;
  if (comment != NULL) {
    ret = first_sentence(comment, cmd->method->name);
  } else if (asprintf(&ret, "Calls %s.%s.", cmd->service->short_name, cmd->method->name) <
             0) {
    ret = NULL;
  }
  free(comment);
  return ret;
}

/* wrap_owned wraps |text| (freed here; NULL: nothing is written). */
static void wrap_owned(STRBUF *b, char *text, size_t col, size_t indent) {
  if (text != NULL) {
    text_wrap(b, text, col, indent, WIDTH);
    free(text);
  }
}

/* example writes |e|: what it does, then the command line, broken with backslashes as
 * a shell would take it, so that it can be pasted. */
static void example(STRBUF *b, const USAGE_EXAMPLE *e) {
  char *what = NULL;
  size_t n_what = strlen(e->what);
  if (n_what > 0 && e->what[n_what - 1] == '.') {
    n_what--;
  }
  if (asprintf(&what, "%.*s:", (int)n_what, e->what) < 0) {
    b->failed = 1;
    return;
  }
  text_wrap(b, what, 0, 2, WIDTH);
  free(what);
  size_t col = 4;
  strbuf_repeat(b, ' ', col);
  const char *p = e->line;
  int first = 1;
  while (*p != '\0') {
    size_t n = strcspn(p, " ");
    // A redirection stays with its file ("> cert.pem").
    if ((n == 1 && (p[0] == '>' || p[0] == '<')) && p[1] == ' ') {
      n = 2 + strspn(p + 2, " ");
      n += strcspn(p + n, " ");
    }
    // Leave room for the backslash that ends a line that continues.
    if (!first && col + 1 + n + 2 > WIDTH) {
      strbuf_puts(b, " \\\n");
      strbuf_repeat(b, ' ', 8);
      col = 8;
      first = 1;
    }
    if (!first) {
      strbuf_putc(b, ' ');
      col++;
    }
    strbuf_append(b, p, n);
    col += n;
    first = 0;
    p += n;
    p += strspn(p, " ");
  }
  strbuf_putc(b, '\n');
}

char *usage_main(const COMMANDS *cmds, const PROTO_HELP *help) {
  STRBUF b;
  strbuf_init(&b);
  text_wrap(&b,
            "smimectl is the command-line client of smimed, the S/MIME service. Each "
            "subcommand makes one call of its API and prints the response as JSON.",
            0, 0, WIDTH);
  strbuf_puts(&b,
              "\nUsage:\n"
              "  smimectl [global flags] SUBCOMMAND [flags]\n"
              "  smimectl SUBCOMMAND --help      the flags of one subcommand\n"
              "\nSubcommands:\n");
  const ProtobufCServiceDescriptor *service = NULL;
  for (size_t i = 0; i < cmds->n; i++) {
    const COMMAND *c = &cmds->list[i];
    if (c->service != service) {
      service = c->service;
      strbuf_putc(&b, '\n');
      char *comment =
          help != NULL ? proto_help_service_comment(help, service->name) : NULL;
      char *line = comment != NULL ? first_sentence(comment, "") : NULL;
      free(comment);
      // The comment names the service ("SettingsService is open to..."), so it can be
      // the heading; without one, the service's full name is.
      if (line != NULL) {
        text_wrap(&b, line, 0, 0, WIDTH);
        free(line);
      } else {
        strbuf_printf(&b, "%s:\n", service->name);
      }
    }
    strbuf_printf(&b, "  %s", c->name);
    wrap_owned(&b, method_summary(c, help), 2 + strlen(c->name), NAME_COL);
  }

  strbuf_puts(&b, "\nGlobal flags (before or after the subcommand):\n");
  for (size_t i = 0; i < usage_n_global_flags; i++) {
    const USAGE_FLAG *f = &usage_global_flags[i];
    size_t col = 4 + strlen(f->name) + (f->metavar != NULL ? 1 + strlen(f->metavar) : 0);
    strbuf_printf(&b, "  --%s%s%s", f->name, f->metavar != NULL ? " " : "",
                  f->metavar != NULL ? f->metavar : "");
    text_wrap(&b, f->help, col, NAME_COL, WIDTH);
  }

  strbuf_puts(&b, "\nFlags of a subcommand are the fields of its request:\n");
  text_wrap(&b,
            "--field VALUE or --field=VALUE. A bool flag alone means true (--enabled); "
            "--enabled=false sends false. Repeat a flag for each value of a repeated "
            "field. Nested fields use dots (--options.digest sha384); for a repeated "
            "message, a flag given again starts its next element. Enums by name, with or "
            "without their prefix (incoming or DIRECTION_INCOMING). Times in RFC 3339 "
            "(2026-11-29T10:00:00Z). Bytes: --data @FILE reads a file, @- reads stdin, "
            "other text is taken as it is (@@x for text starting with @).",
            0, 2, WIDTH);

  int any = 0;
  for (size_t i = 0; i < usage_n_examples; i++) {
    const USAGE_EXAMPLE *e = &usage_examples[i];
    if (commands_find(cmds, e->command) == NULL) {
      continue;
    }
    if (!any) {
      strbuf_puts(&b, "\nExamples:\n");
      any = 1;
    }
    example(&b, e);
  }

  strbuf_puts(&b, "\nExit status:\n");
  text_wrap(&b,
            "0 success; 1 the server or the connection failed, reported on stderr as "
            "\"error: CODE: message\" (CODE a gRPC status such as FAILED_PRECONDITION or "
            "UNAVAILABLE), or `check` was answered with a status other than SERVING; 2 the "
            "command line is wrong.",
            0, 2, WIDTH);
  strbuf_printf(&b, "\nsmimectl %s\n", SMIMECTL_VERSION);
  return strbuf_finish(&b);
}

/* oneof_siblings lists the other members of |f|'s oneof in |d| as flags, or returns
 * NULL if it has none (a oneof of one field, for presence). Caller frees. */
static char *oneof_siblings(const ProtobufCMessageDescriptor *d,
                            const ProtobufCFieldDescriptor *f, const char *prefix) {
  STRBUF b;
  strbuf_init(&b);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *g = &d->fields[i];
    if (g == f || (g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0 ||
        g->quantifier_offset != f->quantifier_offset) {
      continue;
    }
    char *kebab = names_kebab_from_snake(g->name);
    if (kebab != NULL) {
      strbuf_printf(&b, "%s--%s%s", b.len > 0 ? ", " : "", prefix, kebab);
    }
    free(kebab);
  }
  if (b.len == 0) {
    strbuf_cleanup(&b);
    return NULL;
  }
  return strbuf_finish(&b);
}

/* flag_syntax returns how a leaf flag is written: "--enabled[=false]", "--data
 * @FILE|TEXT", "--page-size N". Caller frees. */
static char *flag_syntax(const char *flag, const ProtobufCFieldDescriptor *f) {
  const char *arg;
  switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
      arg = "[=false]";
      break;
    case PROTOBUF_C_TYPE_STRING:
      arg = " TEXT";
      break;
    case PROTOBUF_C_TYPE_BYTES:
      arg = " @FILE|TEXT";
      break;
    case PROTOBUF_C_TYPE_ENUM:
      arg = " NAME";
      break;
    case PROTOBUF_C_TYPE_MESSAGE:
      arg = timestamp_is(f->descriptor) ? " TIME" : ".FIELD";
      break;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
      arg = " NUMBER";
      break;
    default:
      arg = " N";
      break;
  }
  char *ret = NULL;
  if (asprintf(&ret, "--%s%s", flag, arg) < 0) {
    return NULL;
  }
  return ret;
}

/* type_text describes the values of field |f| of |d|. Caller frees. */
static char *type_text(const ProtobufCMessageDescriptor *d,
                       const ProtobufCFieldDescriptor *f, const char *prefix) {
  STRBUF b;
  strbuf_init(&b);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    strbuf_puts(&b, "repeated ");
  }
  switch (f->type) {
    case PROTOBUF_C_TYPE_BYTES:
      strbuf_puts(&b, "bytes: @FILE reads a file, @- stdin, else the text itself");
      break;
    case PROTOBUF_C_TYPE_ENUM: {
      const ProtobufCEnumDescriptor *e = f->descriptor;
      strbuf_puts(&b, "enum:");
      for (unsigned i = 0; i < e->n_values; i++) {
        char *s = names_enum_short(e, &e->values[i]);
        if (s != NULL) {
          strbuf_printf(&b, "%s %s", i == 0 ? "" : ",", s);
        }
        free(s);
      }
      break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
      if (timestamp_is(f->descriptor)) {
        strbuf_puts(&b, "time, RFC 3339: 2026-11-29T10:00:00Z");
      } else {
        strbuf_printf(&b, "message %s",
                      ((const ProtobufCMessageDescriptor *)f->descriptor)->name);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
          strbuf_puts(&b,
                      "; the flags below fill its last element, and one given "
                      "again starts the next element");
        }
      }
      break;
    case PROTOBUF_C_TYPE_BOOL:
      strbuf_puts(&b, "bool: alone means true");
      break;
    default: {
      // The type names of numbers and strings are the proto's own.
      static const char *const names[] = {
          [PROTOBUF_C_TYPE_INT32] = "int32",
          [PROTOBUF_C_TYPE_SINT32] = "sint32",
          [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32",
          [PROTOBUF_C_TYPE_INT64] = "int64",
          [PROTOBUF_C_TYPE_SINT64] = "sint64",
          [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
          [PROTOBUF_C_TYPE_UINT32] = "uint32",
          [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
          [PROTOBUF_C_TYPE_UINT64] = "uint64",
          [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
          [PROTOBUF_C_TYPE_FLOAT] = "float",
          [PROTOBUF_C_TYPE_DOUBLE] = "double",
          [PROTOBUF_C_TYPE_STRING] = "string",
      };
      const char *name =
          (size_t)f->type < sizeof(names) / sizeof(names[0]) && names[f->type] != NULL
              ? names[f->type]
              : "value";
      strbuf_puts(&b, name);
      break;
    }
  }
  if (f->label == PROTOBUF_C_LABEL_REPEATED && cli_args_is_leaf(f)) {
    strbuf_puts(&b, "; give the flag once per value");
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    char *siblings = oneof_siblings(d, f, prefix);
    if (siblings != NULL) {
      strbuf_printf(&b, "; not with %s", siblings);
    } else if (f->type == PROTOBUF_C_TYPE_BOOL) {
      strbuf_puts(&b, "; optional (left out: not sent, so false is not assumed)");
    } else {
      strbuf_puts(&b, "; optional (left out: not sent)");
    }
    free(siblings);
  }
  return strbuf_finish(&b);
}

/* enum_value_comments writes the comments of the values of |e|, one per line, under a
 * flag, so that each choice is explained where it is made. */
static void enum_value_comments(STRBUF *b, const PROTO_HELP *help,
                                const ProtobufCEnumDescriptor *e, size_t indent) {
  for (unsigned i = 0; i < e->n_values; i++) {
    const ProtobufCEnumValue *v = &e->values[i];
    char *comment = proto_help_enum_value_comment(help, e->name, v->name);
    if (comment == NULL) {
      continue;
    }
    // Comments often repeat the value's name ("DIRECTION_INCOMING: DecryptVerify.").
    const char *text = comment;
    size_t n = strlen(v->name);
    if (strncmp(text, v->name, n) == 0 && text[n] == ':') {
      text += n + 1;
      text += strspn(text, " ");
    }
    char *s = names_enum_short(e, v);
    if (s != NULL) {
      strbuf_repeat(b, ' ', indent);
      strbuf_printf(b, "%s:", s);
      text_wrap(b, text, indent + strlen(s) + 1, indent + strlen(s) + 2, WIDTH);
    }
    free(s);
    free(comment);
  }
}

/* field_comment returns the comment of field |f| of |d|, else that of its enum or
 * message type. Caller frees. */
static char *field_comment(const PROTO_HELP *help, const ProtobufCMessageDescriptor *d,
                           const ProtobufCFieldDescriptor *f) {
  if (help == NULL) {
    return NULL;
  }
  char *c = proto_help_field_comment(help, d->name, f->name);
  if (c == NULL && f->type == PROTOBUF_C_TYPE_ENUM) {
    c = proto_help_enum_comment(help,
                                ((const ProtobufCEnumDescriptor *)f->descriptor)->name);
  }
  if (c == NULL && f->type == PROTOBUF_C_TYPE_MESSAGE && !timestamp_is(f->descriptor)) {
    c = proto_help_message_comment(
        help, ((const ProtobufCMessageDescriptor *)f->descriptor)->name);
  }
  return c;
}

/* render_fields writes the flags of the fields of |d| under |prefix| ("" or
 * "options."), indented by |indent|. |stack| holds the message types being expanded
 * (|depth| of them), to stop at recursive types. */
static void render_fields(STRBUF *b, const PROTO_HELP *help,
                          const ProtobufCMessageDescriptor *d, const char *prefix,
                          size_t indent, const ProtobufCMessageDescriptor **stack,
                          size_t depth) {
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    char *kebab = names_kebab_from_snake(f->name);
    char *flag = NULL;
    if (kebab == NULL || asprintf(&flag, "%s%s", prefix, kebab) < 0) {
      free(kebab);
      b->failed = 1;
      return;
    }
    free(kebab);
    char *syntax = flag_syntax(flag, f);
    if (syntax != NULL) {
      strbuf_repeat(b, ' ', indent);
      strbuf_puts(b, syntax);
      wrap_owned(b, type_text(d, f, prefix), indent + strlen(syntax), TYPE_COL);
      free(syntax);
    }
    wrap_owned(b, field_comment(help, d, f), 0, indent + 4);
    if (f->type == PROTOBUF_C_TYPE_ENUM && help != NULL) {
      enum_value_comments(b, help, f->descriptor, indent + 4);
    }
    if (!cli_args_is_leaf(f)) {
      const ProtobufCMessageDescriptor *sub = f->descriptor;
      int recursive = 0;
      for (size_t j = 0; j < depth; j++) {
        if (stack[j] == sub) {
          recursive = 1;
        }
      }
      if (recursive || depth + 1 >= CLI_MAX_DEPTH) {
        strbuf_repeat(b, ' ', indent + 4);
        strbuf_printf(b, "(its fields are listed above, as for %s)\n", sub->name);
      } else {
        char *sub_prefix = NULL;
        if (asprintf(&sub_prefix, "%s.", flag) >= 0) {
          stack[depth] = sub;
          render_fields(b, help, sub, sub_prefix, indent + 2, stack, depth + 1);
          free(sub_prefix);
        } else {
          b->failed = 1;
        }
      }
    }
    free(flag);
  }
}

/* raw_candidates lists the singular bytes fields of |d| (not inside a repeated field),
 * the fields that --raw is for, as dotted flags. */
static void raw_candidates(STRBUF *b, const ProtobufCMessageDescriptor *d,
                           const char *prefix, size_t depth, int *count) {
  if (depth >= 4) {
    return;
  }
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      continue;
    }
    char *kebab = names_kebab_from_snake(f->name);
    if (kebab == NULL) {
      b->failed = 1;
      return;
    }
    if (f->type == PROTOBUF_C_TYPE_BYTES) {
      strbuf_printf(b, "%s%s%s", *count > 0 ? ", " : "", prefix, kebab);
      (*count)++;
    } else if (!cli_args_is_leaf(f)) {
      char *sub = NULL;
      if (asprintf(&sub, "%s%s.", prefix, kebab) >= 0) {
        raw_candidates(b, f->descriptor, sub, depth + 1, count);
        free(sub);
      }
    }
    free(kebab);
  }
}

char *usage_command(const COMMAND *cmd, const PROTO_HELP *help) {
  STRBUF b;
  strbuf_init(&b);
  const ProtobufCMessageDescriptor *in = cmd->method->input;
  const ProtobufCMessageDescriptor *out = cmd->method->output;
  strbuf_printf(&b, "Usage: smimectl [global flags] %s [flags]\n\n", cmd->name);
  char *comment = help != NULL ? proto_help_method_comment(help, cmd->service->name,
                                                           cmd->method->name)
                               : NULL;
  if (comment != NULL) {
    text_wrap(&b, comment, 0, 0, WIDTH);
    strbuf_putc(&b, '\n');
    free(comment);
  }
  char *calls = NULL;
  int n_calls;
  if (in->n_fields > 0) {
    n_calls = asprintf(&calls,
                       "Calls %s with a %s made of the flags below, and prints the %s as "
                       "JSON.",
                       cmd->path, in->name, out->name);
  } else {
    n_calls =
        asprintf(&calls, "Calls %s and prints the %s as JSON.", cmd->path, out->name);
  }
  if (n_calls >= 0) {
    text_wrap(&b, calls, 0, 0, WIDTH);
    free(calls);
  }
  char *request_comment =
      help != NULL ? proto_help_message_comment(help, in->name) : NULL;
  if (request_comment != NULL) {
    text_wrap(&b, request_comment, 0, 0, WIDTH);
    free(request_comment);
  }

  if (in->n_fields == 0) {
    strbuf_puts(&b, "\nFlags: none (the request has no fields).\n");
  } else {
    strbuf_puts(&b, "\nFlags:\n");
    const ProtobufCMessageDescriptor *stack[CLI_MAX_DEPTH];
    stack[0] = in;
    render_fields(&b, help, in, "", 2, stack, 1);
  }

  STRBUF raw;
  strbuf_init(&raw);
  int count = 0;
  raw_candidates(&raw, out, "", 0, &count);
  char *raw_list = strbuf_finish(&raw);
  if (count > 0 && raw_list != NULL) {
    char *text = NULL;
    if (asprintf(&text,
                 "--raw FIELD writes one field of the response to stdout as it is, "
                 "instead of the JSON; this response's bytes: %s.",
                 raw_list) >= 0) {
      strbuf_puts(&b, "\nOutput:\n");
      text_wrap(&b, text, 0, 2, WIDTH);
      free(text);
    }
  }
  free(raw_list);

  int any = 0;
  for (size_t i = 0; i < usage_n_examples; i++) {
    const USAGE_EXAMPLE *e = &usage_examples[i];
    if (strcmp(e->command, cmd->name) != 0) {
      continue;
    }
    if (!any) {
      strbuf_puts(&b, "\nExamples:\n");
      any = 1;
    }
    example(&b, e);
  }

  STRBUF globals;
  strbuf_init(&globals);
  strbuf_puts(&globals, "Global flags (smimectl --help):");
  for (size_t i = 0; i < usage_n_global_flags; i++) {
    if (usage_global_flags[i].metavar != NULL) {
      strbuf_printf(&globals, "%s --%s", i == 0 ? "" : ",", usage_global_flags[i].name);
    }
  }
  strbuf_putc(&globals, '.');
  char *globals_text = strbuf_finish(&globals);
  strbuf_putc(&b, '\n');
  wrap_owned(&b, globals_text, 0, 0);
  return strbuf_finish(&b);
}
