/* settings_store.h: SettingsService's storage: the settings row, per-group defaults,
 * and the audit log entry of each change, written in one transaction. */
#ifndef SMIMED_DB_SETTINGS_STORE_H
#define SMIMED_DB_SETTINGS_STORE_H

#include "service/common/status.h"
#include "service/db/db.h"
#include "smime/v1/settings.pb-c.h"

/* settings_store_get fills |*out| (allocated; free with
 * smime__v1__settings__free_unpacked(out, NULL)) with the stored settings. */
int settings_store_get(DB *db, Smime__V1__Settings **out, STATUS *err);

/* settings_store_is_enabled sets |*out_enabled|; a cheap query for every RPC's check. */
int settings_store_is_enabled(DB *db, int *out_enabled, STATUS *err);

/* settings_store_update applies |req| (validated here: group names 1-200 characters,
 * no duplicates, at most 1000 groups -> INVALID_ARGUMENT), records |caller| and an
 * audit log entry (direction admin, operation update_settings, comment listing every
 * change such as "enabled: false -> true; group support: sign off -> on") with |rpc|,
 * all in one transaction, and returns the new settings in |*out|. A request that changes
 * nothing still succeeds and is still logged ("no change"). */
int settings_store_update(DB *db, const Smime__V1__UpdateSettingsRequest *req,
                          const char *caller, const char *rpc, Smime__V1__Settings **out,
                          STATUS *err);

#endif /* SMIMED_DB_SETTINGS_STORE_H */
