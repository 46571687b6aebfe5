/* incoming_store.c: see incoming_store.h. */
#include "service/db/incoming_store.h"
