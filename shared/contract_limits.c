/* contract_limits.c - the concert settings' bounds as a table (see contract_limits.h). */
#include "contract_limits.h"

#define CONCERT_SETTING_ROW_(column, field, min, max) [SETTING_##column] = {field, min, max},
const struct setting_bounds concert_settings[CONCERT_SETTING_COUNT] = {CONCERT_SETTINGS(CONCERT_SETTING_ROW_)};
