/* outgoing_store.c: see outgoing_store.h. */
#include "service/db/outgoing_store.h"
