/* Status names and messages, and close code helpers (RFC 6455 7.4). */
#include <wsguard/err.h>

struct err_entry {
    int code;
    bool fatal;
    const char *name;
    const char *msg;
};

static const struct err_entry err_table[] = {
#define WSG_X_ENTRY(name, value, fatal, msg) {value, fatal, "WSG_ERR_" #name, msg},
    WSG_ERR_TABLE(WSG_X_ENTRY)
#undef WSG_X_ENTRY
};

static const struct err_entry *err_find(int err)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == err)
            return &err_table[i];
    return NULL;
}

const char *wsg_err_name(int err)
{
    const struct err_entry *e = err_find(err);
    return e ? e->name : "WSG_ERR_UNKNOWN";
}

const char *wsg_strerror(int err)
{
    const struct err_entry *e = err_find(err);
    return e ? e->msg : "unknown error";
}

bool wsg_err_is_fatal(int err)
{
    const struct err_entry *e = err_find(err);
    return e ? e->fatal : true;
}

uint16_t wsg_close_code_for(int err)
{
    switch (err) {
    case WSG_ERR_PROTOCOL:
    case WSG_ERR_MASKING:
        return WSG_CLOSE_PROTOCOL_ERROR;
    case WSG_ERR_INVALID_UTF8:
        return WSG_CLOSE_INVALID_PAYLOAD;
    case WSG_ERR_POLICY:
        return WSG_CLOSE_POLICY_VIOLATION;
    case WSG_ERR_TOO_BIG:
        return WSG_CLOSE_MESSAGE_TOO_BIG;
    case WSG_ERR_CLOSED:
    case WSG_ERR_OK:
        return WSG_CLOSE_NORMAL;
    default:
        return WSG_CLOSE_INTERNAL_ERROR;
    }
}

bool wsg_close_code_is_sendable(uint16_t code)
{
    /* 7.4.1: 1004-1006 and 1015 are reserved; 1016-2999 are unassigned
     * protocol codes; 0-999 are unused. */
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

const char *wsg_close_code_name(uint16_t code)
{
    switch (code) {
    case WSG_CLOSE_NORMAL: return "NORMAL";
    case WSG_CLOSE_GOING_AWAY: return "GOING_AWAY";
    case WSG_CLOSE_PROTOCOL_ERROR: return "PROTOCOL_ERROR";
    case WSG_CLOSE_UNSUPPORTED_DATA: return "UNSUPPORTED_DATA";
    case WSG_CLOSE_NO_STATUS: return "NO_STATUS";
    case WSG_CLOSE_ABNORMAL: return "ABNORMAL";
    case WSG_CLOSE_INVALID_PAYLOAD: return "INVALID_PAYLOAD";
    case WSG_CLOSE_POLICY_VIOLATION: return "POLICY_VIOLATION";
    case WSG_CLOSE_MESSAGE_TOO_BIG: return "MESSAGE_TOO_BIG";
    case WSG_CLOSE_MANDATORY_EXTENSION: return "MANDATORY_EXTENSION";
    case WSG_CLOSE_INTERNAL_ERROR: return "INTERNAL_ERROR";
    case WSG_CLOSE_SERVICE_RESTART: return "SERVICE_RESTART";
    case WSG_CLOSE_TRY_AGAIN_LATER: return "TRY_AGAIN_LATER";
    case WSG_CLOSE_BAD_GATEWAY: return "BAD_GATEWAY";
    case WSG_CLOSE_TLS_HANDSHAKE: return "TLS_HANDSHAKE";
    default:
        return (code >= 3000 && code <= 4999) ? "APPLICATION" : "INVALID";
    }
}
