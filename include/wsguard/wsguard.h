/* wsguard: the umbrella header. */
#ifndef WSGUARD_WSGUARD_H
#define WSGUARD_WSGUARD_H

#include <wsguard/version.h>
#include <wsguard/err.h>
#include <wsguard/core.h>
#include <wsguard/handshake.h>
#include <wsguard/policy.h>
#include <wsguard/guard.h>

#endif
