/* incoming_store.h: storage queries of DecryptVerify and ListRetryable: finding recipients' keys and signers' certificates, retry hints. */
#ifndef SMIMED_DB_INCOMING_STORE_H
#define SMIMED_DB_INCOMING_STORE_H

#include "service/common/status.h"
#include "service/db/db.h"

#endif /* SMIMED_DB_INCOMING_STORE_H */
