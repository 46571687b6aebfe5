/* usage_test.c: the help text, and that every example in it is a valid command line
 * for the current protos (so that the examples cannot rot). */
#include "client/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ctest/check.h"
#include "client/cli_args.h"
#include "grpc/health/v1/health.pb-c.h"
#include "protos/descriptor_set.h"
#include "smime/v1/certificate.pb-c.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/message.pb-c.h"
#include "smime/v1/settings.pb-c.h"

static const ProtobufCServiceDescriptor *const kServices[] = {
    &smime__v1__settings_service__descriptor, &smime__v1__certificate_service__descriptor,
    &smime__v1__message_service__descriptor,  &smime__v1__log_service__descriptor,
    &grpc__health__v1__health__descriptor,
};

/* has checks that |text| contains |want|. */
static int has(const char *text, const char *want) {
  if (strstr(text, want) == NULL) {
    fprintf(stderr, "help lacks \"%s\"\n", want);
    return 0;
  }
  return 1;
}

/* is_global returns 1 if |arg| is a global flag taking a value. */
static int is_global(const char *arg) {
  for (size_t i = 0; i < usage_n_global_flags; i++) {
    if (strncmp(arg, "--", 2) == 0 && strcmp(arg + 2, usage_global_flags[i].name) == 0) {
      return usage_global_flags[i].metavar != NULL;
    }
  }
  return 0;
}

/* check_example parses the example's command line as smimectl would: global flags,
 * the subcommand, then its flags (shell redirections left out). */
static void check_example(const COMMANDS *cmds, const USAGE_EXAMPLE *e) {
  char *line = strdup(e->line);
  CHECK(line != NULL);
  char *argv[64];
  int argc = 0;
  for (char *tok = strtok(line, " "); tok != NULL; tok = strtok(NULL, " ")) {
    if (strcmp(tok, "<") == 0 || strcmp(tok, ">") == 0) {
      strtok(NULL, " ");
      continue;
    }
    CHECK(argc < 64);
    argv[argc++] = tok;
  }
  CHECK(argc >= 2 && strcmp(argv[0], "smimectl") == 0);
  int i = 1;
  while (i < argc && is_global(argv[i])) {
    i += 2;
  }
  CHECK(i < argc);
  const COMMAND *c = commands_find(cmds, argv[i]);
  if (c == NULL || strcmp(c->name, e->command) != 0) {
    fprintf(stderr, "example \"%s\" is not for %s\n", e->line, e->command);
    CHECK(0);
  }
  CLI_EXTRA_FLAG extra[16];
  size_t n_extra = 0;
  for (size_t g = 0; g < usage_n_global_flags; g++) {
    if (usage_global_flags[g].metavar != NULL) {
      extra[n_extra].name = usage_global_flags[g].name;
      extra[n_extra].takes_value = 1;
      n_extra++;
    }
  }
  // Files named with @ need not exist here: read them as text instead.
  for (int j = i + 1; j < argc; j++) {
    if (argv[j][0] == '@') {
      argv[j] = "placeholder";
    }
  }
  ProtobufCMessage *m = NULL;
  char *err = NULL;
  if (!cli_args_parse(c->method->input, argc - i - 1, argv + i + 1, extra, n_extra, &m,
                      &err)) {
    fprintf(stderr, "example \"%s\": %s\n", e->line, err);
    CHECK(0);
  }
  protobuf_c_message_free_unpacked(m, NULL);
  free(line);
}

int main(void) {
  PROTO_HELP *help = proto_help_new(smime_descriptor_set, smime_descriptor_set_len);
  CHECK(help != NULL);
  COMMANDS *cmds = commands_new(kServices, 5, help);
  CHECK(cmds != NULL);

  char *main_help = usage_main(cmds, help);
  CHECK(main_help != NULL);
  for (size_t i = 0; i < cmds->n; i++) {
    char line[128];
    snprintf(line, sizeof(line), "\n  %s ", cmds->list[i].name);
    CHECK(has(main_help, line));
  }
  // Descriptions come from the RPCs' comments, the method name turned into a verb.
  CHECK(
      has(main_help, "update-settings         Changes settings and writes an audit log"));
  CHECK(has(main_help, "SettingsService is open to the admin role only"));
  CHECK(has(main_help, "--addr ADDR"));
  CHECK(has(main_help, "unix:/var/lib/smimed/smimed.sock"));
  CHECK(has(main_help, "smimectl update-settings --enabled\n"));
  CHECK(
      has(main_help, "smimectl import-certificates --data @cert.p12 --password secret"));
  CHECK(has(main_help, "smimectl list-logs --direction admin --page-size 10"));
  CHECK(has(main_help, "error: CODE: message"));
  CHECK(strstr(main_help, " watch ") == NULL);
  // Nothing wider than 80 columns but unbreakable words.
  for (const char *p = main_help; *p != '\0';) {
    size_t n = strcspn(p, "\n");
    if (n > 80) {
      fprintf(stderr, "long line: %.*s\n", (int)n, p);
      CHECK(0);
    }
    p += n + (p[n] == '\n');
  }
  free(main_help);

  char *sub = usage_command(commands_find(cmds, "update-settings"), help);
  CHECK(sub != NULL);
  CHECK(has(sub, "Usage: smimectl [global flags] update-settings [flags]"));
  CHECK(has(sub, "UpdateSettings changes settings and writes an audit log entry"));
  CHECK(has(sub, "/smime.v1.SettingsService/UpdateSettings"));
  CHECK(has(sub, "  --enabled[=false]"));
  CHECK(has(sub, "bool: alone means true; optional"));
  CHECK(has(sub, "enabled turns the integration on or off"));
  CHECK(has(sub, "    --group-defaults.group TEXT"));
  CHECK(has(sub, "repeated message smime.v1.GroupDefaults"));
  CHECK(has(sub, "  --remove-groups TEXT"));
  CHECK(has(sub, "repeated string"));
  CHECK(has(sub, "smimectl update-settings --enabled\n"));
  free(sub);

  sub = usage_command(commands_find(cmds, "list-logs"), help);
  CHECK(has(sub, "--direction NAME"));
  CHECK(has(sub, "enum: unspecified, incoming, outgoing, admin"));
  CHECK(has(sub, "incoming: DecryptVerify."));
  CHECK(has(sub, "--start-time TIME"));
  CHECK(has(sub, "time, RFC 3339"));
  CHECK(has(sub, "--page-size N"));
  free(sub);

  sub = usage_command(commands_find(cmds, "import-certificates"), help);
  CHECK(has(sub, "--data @FILE|TEXT"));
  CHECK(has(sub, "bytes: @FILE reads a file, @- stdin"));
  free(sub);

  sub = usage_command(commands_find(cmds, "sign-encrypt"), help);
  CHECK(has(sub, "--options.digest NAME"));
  CHECK(has(sub, "aes256-gcm"));
  CHECK(has(sub, "this response's bytes: message."));
  free(sub);

  sub = usage_command(commands_find(cmds, "get-settings"), help);
  CHECK(has(sub, "Flags: none"));
  free(sub);

  // Without comments the help still works, from the descriptors alone.
  sub = usage_command(commands_find(cmds, "update-settings"), NULL);
  CHECK(sub != NULL && has(sub, "--enabled[=false]"));
  free(sub);
  main_help = usage_main(cmds, NULL);
  CHECK(main_help != NULL && has(main_help, "Calls SettingsService.UpdateSettings."));
  free(main_help);

  for (size_t i = 0; i < usage_n_examples; i++) {
    check_example(cmds, &usage_examples[i]);
  }
  commands_free(cmds);
  proto_help_free(help);
  printf("usage_test: ok\n");
  return 0;
}
