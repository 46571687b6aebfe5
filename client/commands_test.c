/* commands_test.c: subcommands derived from the real service descriptors. */
#include "client/commands.h"

#include <stdio.h>
#include <string.h>

#include "tests/ctest/check.h"
#include "grpc/health/v1/health.pb-c.h"
#include "protos/descriptor_set.h"
#include "smime/v1/certificate.pb-c.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/message.pb-c.h"
#include "smime/v1/settings.pb-c.h"

int main(void) {
  static const ProtobufCServiceDescriptor *const services[] = {
      &smime__v1__settings_service__descriptor,
      &smime__v1__certificate_service__descriptor,
      &smime__v1__message_service__descriptor,
      &smime__v1__log_service__descriptor,
      &grpc__health__v1__health__descriptor,
  };
  PROTO_HELP *help = proto_help_new(smime_descriptor_set, smime_descriptor_set_len);
  CHECK(help != NULL);
  COMMANDS *cmds = commands_new(services, 5, help);
  CHECK(cmds != NULL);

  // Every unary RPC, none streaming (Health.Watch is left out).
  size_t unary = 0;
  for (size_t s = 0; s < 5; s++) {
    unary += services[s]->n_methods;
  }
  CHECK(cmds->n == unary - 1);
  CHECK(commands_find(cmds, "watch") == NULL);
  CHECK(strcmp(cmds->list[0].name, "get-settings") == 0);

  const COMMAND *c = commands_find(cmds, "update-settings");
  CHECK(c != NULL);
  CHECK(strcmp(c->path, "/smime.v1.SettingsService/UpdateSettings") == 0);
  CHECK(c->method->input == &smime__v1__update_settings_request__descriptor);
  CHECK(c->service == &smime__v1__settings_service__descriptor);

  c = commands_find(cmds, "import-certificates");
  CHECK(c != NULL &&
        strcmp(c->path, "/smime.v1.CertificateService/ImportCertificates") == 0);
  c = commands_find(cmds, "get-security-options");
  CHECK(c != NULL && strcmp(c->path, "/smime.v1.MessageService/GetSecurityOptions") == 0);
  c = commands_find(cmds, "list-logs");
  CHECK(c != NULL && strcmp(c->path, "/smime.v1.LogService/ListLogs") == 0);
  c = commands_find(cmds, "check");
  CHECK(c != NULL && strcmp(c->path, "/grpc.health.v1.Health/Check") == 0);

  // The RPC's own spelling works too; typos get a suggestion, nonsense none.
  CHECK(commands_find(cmds, "UpdateSettings") == commands_find(cmds, "update-settings"));
  CHECK(commands_find(cmds, "list_logs") == commands_find(cmds, "list-logs"));
  CHECK(commands_find(cmds, "update") == NULL);
  CHECK(commands_closest(cmds, "update-setings") ==
        commands_find(cmds, "update-settings"));
  CHECK(commands_closest(cmds, "lst-logs") == commands_find(cmds, "list-logs"));
  CHECK(commands_closest(cmds, "frobnicate") == NULL);
  commands_free(cmds);

  // Without a descriptor set nothing is known to stream: Watch is listed.
  cmds = commands_new(services, 5, NULL);
  CHECK(cmds != NULL && cmds->n == unary);
  commands_free(cmds);

  // Two services with the same method names: both qualified, both reachable.
  static const ProtobufCServiceDescriptor *const twice[] = {
      &smime__v1__log_service__descriptor,
      &smime__v1__log_service__descriptor,
  };
  cmds = commands_new(twice, 2, help);
  CHECK(cmds != NULL && cmds->n == 4);
  CHECK(strcmp(cmds->list[0].name, "log-service.list-logs") == 0);
  CHECK(commands_find(cmds, "list-logs") == NULL);
  commands_free(cmds);
  commands_free(NULL);
  proto_help_free(help);
  printf("commands_test: ok\n");
  return 0;
}
