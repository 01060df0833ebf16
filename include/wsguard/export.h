/* wsguard: symbol visibility. */
#ifndef WSGUARD_EXPORT_H
#define WSGUARD_EXPORT_H

/* WSG_API marks every public function. The library is built with
 * -fvisibility=hidden and WSG_BUILDING set, so only these symbols are
 * exported from libwsguard.so. */
#if defined(WSG_BUILDING) && defined(__GNUC__)
#define WSG_API __attribute__((visibility("default")))
#else
#define WSG_API
#endif

#endif
