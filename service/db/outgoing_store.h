/* outgoing_store.h: storage queries of SignEncrypt and GetSecurityOptions: choosing certificates and fetching wrapped keys. */
#ifndef SMIMED_DB_OUTGOING_STORE_H
#define SMIMED_DB_OUTGOING_STORE_H

#include "service/common/status.h"
#include "service/db/db.h"

#endif /* SMIMED_DB_OUTGOING_STORE_H */
