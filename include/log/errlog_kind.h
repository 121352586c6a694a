/* errlog_kind: the event kinds and their names are errlog.h's; which kind
 * a message is, errlog.c's private src/log/errlog_kindmap.h. Kept so that
 * its includers keep building; include "log/errlog.h" instead. */
#pragma once

#include "log/errlog.h"
