/* Internal: frame header decoding and the header-only checks
 * (RFC 6455 section 5.2), each with a close code and a short reason. */
#ifndef WSG_CORE_FRAME_H
#define WSG_CORE_FRAME_H

#include <wsguard/core.h>

/* Why a connection failed: the status, the close code, a reason. */
struct wsg__why {
    int err;
    uint16_t code;
    uint8_t len;
    char text[124]; /* fits a Close payload: 125 - 2 for the code */
};

void wsg__why_set(struct wsg__why *w, int err, const char *text);
void wsg__why_add(struct wsg__why *w, const char *text);
void wsg__why_add_u64(struct wsg__why *w, uint64_t v);

/* A decoded header. */
struct wsg__frame {
    bool fin;
    bool masked;
    uint8_t rsv;
    uint8_t op;
    uint64_t len;
    uint8_t key[4];
};

static inline bool wsg__op_is_control(uint8_t op)
{
    return (op & 0x8u) != 0;
}

/* Total header size (2 to 14) given its second byte. */
size_t wsg__frame_header_size(uint8_t b1);

/* Bytes of extended length (0, 2 or 8) given the second byte. */
size_t wsg__frame_ext_size(uint8_t b1);

/* Checks on the first byte: opcode, RSV bits (`rsv_allowed` only on the
 * first frame of a data message), control FIN, fragmentation order.
 * `in_msg`: a fragmented data message is in progress. Returns
 * WSG_OK or the error (with `w` filled). */
int wsg__frame_check_b0(uint8_t b0, uint8_t rsv_allowed, bool in_msg,
                        struct wsg__why *w);

/* Checks on the second byte: masking for the role, control length. */
int wsg__frame_check_b1(uint8_t b0, uint8_t b1, enum wsg_role role,
                        struct wsg__why *w);

/* Decodes the payload length from `h` (2 + ext bytes available) and
 * refuses non-minimal encodings and the 64-bit top bit. */
int wsg__frame_decode_len(const uint8_t *h, uint64_t *len,
                          struct wsg__why *w);

/* Limits, from the header alone (shared/THREATS.md T1-T3). `so_far` and
 * `frags` describe the message before this frame (0 for a first frame). */
int wsg__frame_check_limits(uint64_t len, uint64_t max_frame,
                            uint64_t max_message, uint32_t max_fragments,
                            uint64_t so_far, uint32_t frags,
                            struct wsg__why *w);

#endif
