/* smimectl.c: the command-line client of smimed (DESIGN.md section 6).
 *
 * Everything per RPC is derived from the protobuf-c service descriptors in kServices:
 * subcommands (commands.c), request flags (cli_args.c), help (usage.c, with comments
 * from the descriptor set), output (json_out.c). An RPC added to a .proto of one of
 * these services appears here when smimectl is rebuilt, with no other change.
 *
 * Exit status: 0 success, 1 the call failed (server status or connection; for `check`,
 * also an answer other than SERVING), 2 usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli_args.h"
#include "client/commands.h"
#include "client/grpc_call.h"
#include "client/json_out.h"
#include "client/proto_help.h"
#include "client/usage.h"
#include "grpc/health/v1/health.pb-c.h"
#include "protos/descriptor_set.h"
#include "smime/v1/certificate.pb-c.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/message.pb-c.h"
#include "smime/v1/settings.pb-c.h"

/* kServices are the services smimectl calls, in the order its help lists them. */
static const ProtobufCServiceDescriptor *const kServices[] = {
    &smime__v1__settings_service__descriptor, &smime__v1__certificate_service__descriptor,
    &smime__v1__message_service__descriptor,  &smime__v1__log_service__descriptor,
    &grpc__health__v1__health__descriptor,
};

enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,
  EXIT_USAGE = 2,
};

/* OPTIONS are the global flags. */
typedef struct options_st {
  const char *addr;
  double deadline;
  RPC_TLS tls;
  const char *raw;
} OPTIONS;

/* usage_error prints a usage error and the help to look at; returns EXIT_USAGE. */
static int usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *command, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("smimectl: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (command != NULL) {
    fprintf(stderr, "\nRun 'smimectl %s --help' for its flags.\n", command);
  } else {
    fputs("\nRun 'smimectl --help' for the subcommands and flags.\n", stderr);
  }
  return EXIT_USAGE;
}

/* print_owned writes |text| (freed here) to stdout; 0 if it is NULL or cannot be
 * written. */
static int print_owned(char *text) {
  if (text == NULL) {
    fputs("smimectl: out of memory\n", stderr);
    return 0;
  }
  int ok = fputs(text, stdout) >= 0 && fflush(stdout) == 0;
  free(text);
  if (!ok) {
    fprintf(stderr, "smimectl: cannot write to stdout: %s\n", strerror(errno));
  }
  return ok;
}

/* set_option applies global flag |name| with |value| to |opt|; |command| is for the
 * error message. Returns EXIT_OK or EXIT_USAGE. */
static int set_option(OPTIONS *opt, const char *command, const char *name,
                      const char *value) {
  if (strcmp(name, "addr") == 0) {
    if (value[0] == '\0') {
      return usage_error(command, "--addr: empty address");
    }
    opt->addr = value;
  } else if (strcmp(name, "deadline") == 0) {
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    if (value[0] == '\0' || *end != '\0' || errno != 0 || !(d > 0) || d > 31536000) {
      return usage_error(command,
                         "--deadline: \"%s\" is not a number of seconds (above 0, at "
                         "most a year)",
                         value);
    }
    opt->deadline = d;
  } else if (strcmp(name, "tls-cert") == 0) {
    opt->tls.cert_file = value;
  } else if (strcmp(name, "tls-key") == 0) {
    opt->tls.key_file = value;
  } else if (strcmp(name, "tls-ca") == 0) {
    opt->tls.ca_file = value;
  } else if (strcmp(name, "tls-server-name") == 0) {
    opt->tls.server_name = value;
  } else if (strcmp(name, "raw") == 0) {
    opt->raw = value;
  }
  return EXIT_OK;
}

/* find_global returns the global flag that |len| bytes of |name| name, or NULL. */
static const USAGE_FLAG *find_global(const char *name, size_t len) {
  for (size_t i = 0; i < usage_n_global_flags; i++) {
    if (strlen(usage_global_flags[i].name) == len &&
        strncmp(usage_global_flags[i].name, name, len) == 0) {
      return &usage_global_flags[i];
    }
  }
  return NULL;
}

/* raw_field finds the field --raw names in |resp| and returns its bytes in
 * |*out_data|/|*out_len| (empty if unset). |fields| come from cli_args_resolve and were
 * checked by check_raw. */
static void raw_field(const ProtobufCMessage *resp,
                      const ProtobufCFieldDescriptor **fields, size_t n,
                      const uint8_t **out_data, size_t *out_len) {
  *out_data = NULL;
  *out_len = 0;
  const ProtobufCMessage *m = resp;
  for (size_t i = 0; i + 1 < n; i++) {
    const ProtobufCFieldDescriptor *f = fields[i];
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id) {
      return;
    }
    m = *(const ProtobufCMessage *const *)((const char *)m + f->offset);
    if (m == NULL) {
      return;
    }
  }
  const ProtobufCFieldDescriptor *leaf = fields[n - 1];
  if ((leaf->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
      *(const uint32_t *)((const char *)m + leaf->quantifier_offset) != leaf->id) {
    return;
  }
  const char *p = (const char *)m + leaf->offset;
  if (leaf->type == PROTOBUF_C_TYPE_BYTES) {
    const ProtobufCBinaryData *bin = (const ProtobufCBinaryData *)p;
    *out_data = bin->data;
    *out_len = bin->len;
  } else {
    const char *s = *(const char *const *)p;
    *out_data = (const uint8_t *)s;
    *out_len = s != NULL ? strlen(s) : 0;
  }
}

/* check_raw resolves --raw against the response type before the call, so that a typo
 * costs no round trip (and no side effect). */
static int check_raw(const COMMAND *cmd, const char *raw,
                     const ProtobufCFieldDescriptor *fields[CLI_MAX_DEPTH], size_t *n) {
  const ProtobufCMessageDescriptor *out = cmd->method->output;
  if (!cli_args_resolve(out, raw, strlen(raw), fields, n)) {
    usage_error(cmd->name, "--raw: the response (%s) has no field \"%s\"", out->name,
                raw);
    return 0;
  }
  for (size_t i = 0; i < *n; i++) {
    if (fields[i]->label == PROTOBUF_C_LABEL_REPEATED) {
      usage_error(cmd->name, "--raw %s: %s is repeated; --raw writes one value", raw,
                  fields[i]->name);
      return 0;
    }
  }
  ProtobufCType t = fields[*n - 1]->type;
  if (t != PROTOBUF_C_TYPE_BYTES && t != PROTOBUF_C_TYPE_STRING) {
    usage_error(cmd->name, "--raw %s: not a bytes or string field (the JSON shows it)",
                raw);
    return 0;
  }
  return 1;
}

/* run_command parses the flags of |cmd| (|argv[0..argc)|, after the subcommand), makes
 * the call and prints the result. Returns the exit status. */
static int run_command(const COMMAND *cmd, int argc, char **argv, OPTIONS *opt) {
  int ret = EXIT_FAILED;
  ProtobufCMessage *req = NULL;
  ProtobufCMessage *resp = NULL;
  RPC_CHANNEL *ch = NULL;
  char *err = NULL;
  CLI_EXTRA_FLAG extra[16];
  size_t n_extra = 0;
  for (size_t i = 0; i < usage_n_global_flags && n_extra < 16; i++) {
    // --help was handled before; --version belongs before the subcommand.
    if (usage_global_flags[i].metavar == NULL) {
      continue;
    }
    extra[n_extra].name = usage_global_flags[i].name;
    extra[n_extra].takes_value = 1;
    n_extra++;
  }
  if (!cli_args_parse(cmd->method->input, argc, argv, extra, n_extra, &req, &err)) {
    ret = usage_error(cmd->name, "%s", err);
    goto out;
  }
  for (size_t i = 0; i < n_extra; i++) {
    if (extra[i].given && extra[i].value != NULL &&
        set_option(opt, cmd->name, extra[i].name, extra[i].value) != EXIT_OK) {
      ret = EXIT_USAGE;
      goto out;
    }
  }
  if ((opt->tls.cert_file == NULL) != (opt->tls.key_file == NULL)) {
    ret = usage_error(cmd->name, "--tls-cert and --tls-key go together");
    goto out;
  }
  const ProtobufCFieldDescriptor *raw_fields[CLI_MAX_DEPTH];
  size_t n_raw = 0;
  if (opt->raw != NULL && !check_raw(cmd, opt->raw, raw_fields, &n_raw)) {
    ret = EXIT_USAGE;
    goto out;
  }
  const char *addr = opt->addr;
  if (addr == NULL) {
    addr = getenv("SMIMED_ADDR");
  }
  if (addr == NULL || addr[0] == '\0') {
    addr = SMIMECTL_DEFAULT_ADDR;
  }

  STATUS status;
  ch = rpc_channel_new(addr, &opt->tls, &status);
  if (ch == NULL) {
    ret = usage_error(cmd->name, "%s", status.message);
    goto out;
  }
  if (!rpc_call_unary(ch, cmd->path, req, cmd->method->output, opt->deadline, &resp,
                      &status)) {
    fprintf(stderr, "error: %s: %s\n", status_code_name(status.code), status.message);
    ret = EXIT_FAILED;
    goto out;
  }
  if (opt->raw != NULL) {
    const uint8_t *data;
    size_t len;
    raw_field(resp, raw_fields, n_raw, &data, &len);
    if ((len > 0 && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0) {
      fprintf(stderr, "smimectl: cannot write to stdout: %s\n", strerror(errno));
      goto out;
    }
  } else if (!print_owned(json_out_message(resp))) {
    goto out;
  }
  ret = EXIT_OK;
  /* A health check that is answered but not SERVING fails, as probes expect
   * (grpc_health_probe does the same): the JSON above says which status it was. */
  if (resp->descriptor == &grpc__health__v1__health_check_response__descriptor &&
      ((Grpc__Health__V1__HealthCheckResponse *)resp)->status !=
          GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) {
    fprintf(stderr, "smimectl: the service is not serving\n");
    ret = EXIT_FAILED;
  }

out:
  protobuf_c_message_free_unpacked(resp, NULL);
  protobuf_c_message_free_unpacked(req, NULL);
  rpc_channel_free(ch);
  free(err);
  return ret;
}

int main(int argc, char **argv) {
  int ret = EXIT_USAGE;
  OPTIONS opt;
  memset(&opt, 0, sizeof(opt));
  opt.deadline = SMIMECTL_DEFAULT_DEADLINE;
  PROTO_HELP *help = proto_help_new(smime_descriptor_set, smime_descriptor_set_len);
  COMMANDS *cmds =
      commands_new(kServices, sizeof(kServices) / sizeof(kServices[0]), help);
  if (cmds == NULL) {
    fputs("smimectl: out of memory\n", stderr);
    ret = EXIT_FAILED;
    goto out;
  }

  // Global flags come first, up to the subcommand.
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      ret = print_owned(usage_main(cmds, help)) ? EXIT_OK : EXIT_FAILED;
      goto out;
    }
    if (strcmp(arg, "--version") == 0) {
      printf("smimectl %s\n", SMIMECTL_VERSION);
      ret = EXIT_OK;
      goto out;
    }
    const char *name = arg[1] == '-' ? arg + 2 : arg + 1;
    size_t len = strcspn(name, "=");
    const USAGE_FLAG *g = find_global(name, len);
    if (g == NULL || g->metavar == NULL) {
      ret = usage_error(NULL,
                        "unknown global flag %s (request flags go after the subcommand: "
                        "smimectl SUBCOMMAND %s)",
                        arg, arg);
      goto out;
    }
    const char *value = name[len] == '=' ? name + len + 1 : NULL;
    if (value == NULL) {
      if (i + 1 >= argc) {
        ret = usage_error(NULL, "--%s needs a value", g->name);
        goto out;
      }
      value = argv[++i];
    }
    if (set_option(&opt, NULL, g->name, value) != EXIT_OK) {
      goto out;
    }
  }
  if (i >= argc) {
    ret = usage_error(NULL,
                      "no subcommand given\nUsage: smimectl [global flags] SUBCOMMAND "
                      "[flags]");
    goto out;
  }
  const char *name = argv[i];
  const COMMAND *cmd = commands_find(cmds, name);
  if (cmd == NULL) {
    const COMMAND *close = commands_closest(cmds, name);
    if (close != NULL) {
      ret = usage_error(NULL, "unknown subcommand \"%s\" (did you mean %s?)", name,
                        close->name);
    } else {
      ret = usage_error(NULL, "unknown subcommand \"%s\"", name);
    }
    goto out;
  }
  // --help anywhere after the subcommand shows its flags, even among half-typed ones.
  for (int j = i + 1; j < argc; j++) {
    if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
      ret = print_owned(usage_command(cmd, help)) ? EXIT_OK : EXIT_FAILED;
      goto out;
    }
  }
  ret = run_command(cmd, argc - i - 1, argv + i + 1, &opt);

out:
  commands_free(cmds);
  proto_help_free(help);
  return ret;
}
