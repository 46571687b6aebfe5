/* commands.h: smimectl's subcommands, derived from service descriptors: one per unary
 * RPC, named in kebab case ("UpdateSettings" -> "update-settings"). Streaming RPCs
 * (grpc.health.v1.Health/Watch) are left out: a command line makes one unary call. */
#ifndef SMIMED_CLIENT_COMMANDS_H
#define SMIMED_CLIENT_COMMANDS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "client/proto_help.h"

/* COMMAND is one subcommand. */
typedef struct command_st {
  /* name is the subcommand: "update-settings". If two services have RPCs of the same
   * name, both are qualified with their service: "settings-service.get". */
  char *name;
  /* path is the gRPC method path: "/smime.v1.SettingsService/UpdateSettings". */
  char *path;
  const ProtobufCServiceDescriptor *service;
  const ProtobufCMethodDescriptor *method;
} COMMAND;

/* COMMANDS is the table of subcommands, in the order of the services and methods given
 * to commands_new. */
typedef struct commands_st {
  COMMAND *list;
  size_t n;
} COMMANDS;

/* commands_new derives the subcommands of |services[0..n_services)|. |help| (may be
 * NULL) tells which methods stream. Returns NULL if out of memory. */
COMMANDS *commands_new(const ProtobufCServiceDescriptor *const *services,
                       size_t n_services, const PROTO_HELP *help);

/* commands_free frees |cmds|; NULL is fine. */
void commands_free(COMMANDS *cmds);

/* commands_find returns the subcommand called |name|, or NULL. */
const COMMAND *commands_find(const COMMANDS *cmds, const char *name);

/* commands_closest returns the subcommand whose name is closest to the mistyped |name|
 * if it is close enough to be a likely typo, or NULL. */
const COMMAND *commands_closest(const COMMANDS *cmds, const char *name);

#endif /* SMIMED_CLIENT_COMMANDS_H */
