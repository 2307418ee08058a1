#ifndef TWOFACTORD_CLMDB_SHIM_H
#define TWOFACTORD_CLMDB_SHIM_H
#include <lmdb.h>
#endif
