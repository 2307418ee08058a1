#ifndef TWOFACTORD_CQRENCODE_SHIM_H
#define TWOFACTORD_CQRENCODE_SHIM_H
#include <qrencode.h>
#endif
