/**
 * @file powersync.h
 * @brief libpowersync: a PowerSync client in C. Includes every public header.
 */
#ifndef POWERSYNC_H
#define POWERSYNC_H

#include "powersync/common.h"
#include "powersync/crud.h"
#include "powersync/db.h"
#include "powersync/errors.h"
#include "powersync/ext.h"
#include "powersync/log.h"
#include "powersync/schema.h"
#include "powersync/sync.h"
#include "powersync/watch.h"

#endif
