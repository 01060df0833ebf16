/* wsguard: status codes and WebSocket close codes.
 *
 * Includes only <stddef.h>, <stdint.h> and <stdbool.h>. */
#ifndef WSGUARD_ERR_H
#define WSGUARD_ERR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every status the library returns. One table makes the enum,
 * wsg_err_name() and wsg_strerror(). Codes are negative, stable and never
 * renumbered: new codes are appended. WSG_OK (0) is success.
 *
 * X(NAME, value, fatal, "message") */
#define WSG_ERR_TABLE(X)                                                      \
    X(OK, 0, 0, "success")                                                    \
    X(NOMEM, -1, 1, "out of memory")                                          \
    X(INVALID_ARG, -2, 0, "invalid argument")                                 \
    X(STATE, -3, 0, "operation not allowed in the current state")            \
    X(AGAIN, -4, 0, "output budget exhausted; drain pending output first")   \
    X(PROTOCOL, -5, 1, "WebSocket protocol violation (close 1002)")          \
    X(INVALID_UTF8, -6, 1, "invalid UTF-8 in text or close reason (close 1007)") \
    X(TOO_BIG, -7, 1, "frame or message over the configured limit (close 1009)") \
    X(CLOSED, -8, 1, "connection is closed")                                  \
    X(TIMEOUT, -9, 1, "deadline passed")                                      \
    X(HTTP, -10, 1, "malformed or refused HTTP handshake")                    \
    X(HANDSHAKE, -11, 1, "WebSocket handshake validation failed")            \
    X(BUFFER, -12, 0, "buffer too small")                                     \
    X(RANDOM, -13, 1, "random source failed")                                 \
    X(IO, -14, 1, "I/O error")                                                \
    X(TLS, -15, 1, "TLS error")                                               \
    X(UNSUPPORTED, -16, 0, "unsupported option or feature")                   \
    X(POLICY, -17, 1, "refused by policy (close 1008)")                       \
    X(PEER_CLOSED, -18, 1, "peer closed the transport")                       \
    X(MASKING, -19, 1, "masking violation (close 1002)")

enum wsg_err {
#define WSG_X_ENUM(name, value, fatal, msg) WSG_ERR_##name = value,
    WSG_ERR_TABLE(WSG_X_ENUM)
#undef WSG_X_ENUM
};

#define WSG_OK WSG_ERR_OK

/* "WSG_ERR_PROTOCOL" for WSG_ERR_PROTOCOL; "WSG_ERR_UNKNOWN" otherwise.
 * Never NULL; static storage. */
WSG_API const char *wsg_err_name(int err);

/* A short human-readable message. Never NULL; static storage. */
WSG_API const char *wsg_strerror(int err);

/* True for errors after which the object that returned them is unusable
 * (they stick: every later call returns the same code). */
WSG_API bool wsg_err_is_fatal(int err);

/* RFC 6455 section 7.4.1 close codes, plus the IANA-registered ones. */
enum wsg_close_code {
    WSG_CLOSE_NORMAL = 1000,
    WSG_CLOSE_GOING_AWAY = 1001,
    WSG_CLOSE_PROTOCOL_ERROR = 1002,
    WSG_CLOSE_UNSUPPORTED_DATA = 1003,
    WSG_CLOSE_NO_STATUS = 1005,      /* never sent on the wire */
    WSG_CLOSE_ABNORMAL = 1006,       /* never sent on the wire */
    WSG_CLOSE_INVALID_PAYLOAD = 1007,
    WSG_CLOSE_POLICY_VIOLATION = 1008,
    WSG_CLOSE_MESSAGE_TOO_BIG = 1009,
    WSG_CLOSE_MANDATORY_EXTENSION = 1010,
    WSG_CLOSE_INTERNAL_ERROR = 1011,
    WSG_CLOSE_SERVICE_RESTART = 1012,
    WSG_CLOSE_TRY_AGAIN_LATER = 1013,
    WSG_CLOSE_BAD_GATEWAY = 1014,
    WSG_CLOSE_TLS_HANDSHAKE = 1015   /* never sent on the wire */
};

/* The close code that a failure with `err` sends (RFC 6455 section 7.4.1):
 * PROTOCOL/MASKING -> 1002, INVALID_UTF8 -> 1007, POLICY -> 1008,
 * TOO_BIG -> 1009, anything else -> 1011. */
WSG_API uint16_t wsg_close_code_for(int err);

/* True if `code` may appear in a Close frame on the wire (RFC 6455
 * section 7.4: 1000-1003, 1007-1014, 3000-4999). */
WSG_API bool wsg_close_code_is_sendable(uint16_t code);

/* A name for a close code ("NORMAL", "PROTOCOL_ERROR", ... or "APPLICATION"
 * for 3000-4999, "INVALID" otherwise). Static storage. */
WSG_API const char *wsg_close_code_name(uint16_t code);

#ifdef __cplusplus
}
#endif
#endif
