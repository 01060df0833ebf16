/* Control ids and titles (shared/HARDENING.md). */
#include <wsguard/policy.h>

static const char *const ids[] = {
    "H?", "H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8",
    "H9", "H10", "H11", "H12", "H13", "H14", "H15",
};

static const char *const titles[] = {
    "Unknown control",
    "Encrypted transport only",
    "Origin validation (CSWSH)",
    "Authentication at the handshake",
    "Strict protocol validation",
    "Message size limits",
    "Rate limiting",
    "Timeouts and heartbeats",
    "Compression safety",
    "Input validation hooks",
    "Security headers",
    "Logging and monitoring",
    "Resource bounds",
    "Secure failure",
    "Updatable, auditable",
    "Security testing",
};

const char *wsg_control_id(int control)
{
    return control >= WSG_H1 && control <= WSG_H15 ? ids[control] : ids[0];
}

const char *wsg_control_title(int control)
{
    return control >= WSG_H1 && control <= WSG_H15 ? titles[control]
                                                    : titles[0];
}
