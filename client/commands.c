/* commands.c: see commands.h. */
#include "client/commands.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/names.h"

void commands_free(COMMANDS *cmds) {
  if (cmds == NULL) {
    return;
  }
  for (size_t i = 0; i < cmds->n; i++) {
    free(cmds->list[i].name);
    free(cmds->list[i].path);
  }
  free(cmds->list);
  free(cmds);
}

/* qualify renames |c| to "<service>.<method>" in kebab case. */
static int qualify(COMMAND *c) {
  char *service = names_kebab_from_camel(c->service->short_name);
  char *name = NULL;
  if (service == NULL || asprintf(&name, "%s.%s", service, c->name) < 0) {
    free(service);
    return 0;
  }
  free(service);
  free(c->name);
  c->name = name;
  return 1;
}

COMMANDS *commands_new(const ProtobufCServiceDescriptor *const *services,
                       size_t n_services, const PROTO_HELP *help) {
  COMMANDS *cmds = calloc(1, sizeof(*cmds));
  if (cmds == NULL) {
    return NULL;
  }
  size_t total = 0;
  for (size_t s = 0; s < n_services; s++) {
    total += services[s]->n_methods;
  }
  cmds->list = calloc(total > 0 ? total : 1, sizeof(COMMAND));
  if (cmds->list == NULL) {
    goto err;
  }
  for (size_t s = 0; s < n_services; s++) {
    const ProtobufCServiceDescriptor *sd = services[s];
    for (unsigned m = 0; m < sd->n_methods; m++) {
      const ProtobufCMethodDescriptor *md = &sd->methods[m];
      if (help != NULL && proto_help_method_streams(help, sd->name, md->name)) {
        continue;
      }
      COMMAND *c = &cmds->list[cmds->n];
      c->service = sd;
      c->method = md;
      c->name = names_kebab_from_camel(md->name);
      if (c->name == NULL || asprintf(&c->path, "/%s/%s", sd->name, md->name) < 0) {
        c->path = NULL;
        cmds->n++;
        goto err;
      }
      cmds->n++;
    }
  }
  // Qualify names that two services share, so that every subcommand stays reachable.
  char *dup = calloc(cmds->n > 0 ? cmds->n : 1, 1);
  if (dup == NULL) {
    goto err;
  }
  for (size_t i = 0; i < cmds->n; i++) {
    for (size_t j = i + 1; j < cmds->n; j++) {
      if (strcmp(cmds->list[i].name, cmds->list[j].name) == 0) {
        dup[i] = dup[j] = 1;
      }
    }
  }
  for (size_t i = 0; i < cmds->n; i++) {
    if (dup[i] && !qualify(&cmds->list[i])) {
      free(dup);
      goto err;
    }
  }
  free(dup);
  return cmds;

err:
  commands_free(cmds);
  return NULL;
}

/* loose_equal compares names ignoring case, '-' and '_', so that the RPC's own
 * spelling ("UpdateSettings", "update_settings") finds "update-settings" too. */
static int loose_equal(const char *a, const char *b) {
  for (;;) {
    while (*a == '-' || *a == '_') {
      a++;
    }
    while (*b == '-' || *b == '_') {
      b++;
    }
    if (*a == '\0' || *b == '\0') {
      return *a == *b;
    }
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) {
      return 0;
    }
    a++;
    b++;
  }
}

const COMMAND *commands_find(const COMMANDS *cmds, const char *name) {
  for (size_t i = 0; i < cmds->n; i++) {
    if (strcmp(cmds->list[i].name, name) == 0) {
      return &cmds->list[i];
    }
  }
  for (size_t i = 0; i < cmds->n; i++) {
    if (loose_equal(cmds->list[i].name, name)) {
      return &cmds->list[i];
    }
  }
  return NULL;
}

const COMMAND *commands_closest(const COMMANDS *cmds, const char *name) {
  const COMMAND *best = NULL;
  size_t best_distance = SIZE_MAX;
  for (size_t i = 0; i < cmds->n; i++) {
    size_t d = names_edit_distance(name, cmds->list[i].name);
    if (d < best_distance) {
      best = &cmds->list[i];
      best_distance = d;
    }
  }
  size_t limit = strlen(name) / 3 > 2 ? strlen(name) / 3 : 2;
  return best_distance <= limit ? best : NULL;
}
