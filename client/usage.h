/* usage.h: smimectl's help text, generated from the descriptors and the comments of the
 * .proto files, plus the global flags and examples, which are smimectl's own. */
#ifndef SMIMED_CLIENT_USAGE_H
#define SMIMED_CLIENT_USAGE_H

#include <stddef.h>

#include "client/commands.h"
#include "client/proto_help.h"

/* SMIMECTL_VERSION is smimectl's version (the daemon's, DESIGN.md: one release). */
#define SMIMECTL_VERSION "0.1.0"

/* SMIMECTL_DEFAULT_ADDR is the server when neither --addr nor SMIMED_ADDR is given: the
 * socket of the embedded default, `smimed --data-dir /var/lib/smimed`. */
#define SMIMECTL_DEFAULT_ADDR "unix:/var/lib/smimed/smimed.sock"

/* SMIMECTL_DEFAULT_DEADLINE is --deadline's default, in seconds. */
#define SMIMECTL_DEFAULT_DEADLINE 30.0

/* USAGE_FLAG is one global flag: its name (without "--"), the placeholder of its value
 * (NULL: it takes none) and its help. smimectl parses exactly these. */
typedef struct usage_flag_st {
  const char *name;
  const char *metavar;
  const char *help;
} USAGE_FLAG;

extern const USAGE_FLAG usage_global_flags[];
extern const size_t usage_n_global_flags;

/* USAGE_EXAMPLE is one example command line for |command|; shown in the help only if
 * that subcommand exists, and checked against the protos by usage_test. */
typedef struct usage_example_st {
  const char *command;
  const char *line;
  const char *what;
} USAGE_EXAMPLE;

extern const USAGE_EXAMPLE usage_examples[];
extern const size_t usage_n_examples;

/* usage_main returns the text of `smimectl --help` (caller frees), or NULL. |help| may
 * be NULL (no descriptions then). */
char *usage_main(const COMMANDS *cmds, const PROTO_HELP *help);

/* usage_command returns the text of `smimectl SUBCOMMAND --help`: the RPC, every request
 * field as a flag with its type and comment, --raw candidates, examples. */
char *usage_command(const COMMAND *cmd, const PROTO_HELP *help);

#endif /* SMIMED_CLIENT_USAGE_H */
