/* Building blocks of upgrade requests for the server tests. The RFC 6455
 * section 1.3 example key. */
#ifndef WSG_TEST_HS_REQ_H
#define WSG_TEST_HS_REQ_H

#define REQ_LINE "GET /chat?room=1 HTTP/1.1\r\n"
#define H_HOST "Host: server.example.com\r\n"
#define H_UPG "Upgrade: websocket\r\n"
#define H_CONN "Connection: Upgrade\r\n"
#define H_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define H_VER "Sec-WebSocket-Version: 13\r\n"
#define CRLF "\r\n"

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* A valid request with `extra` header lines before the blank line. */
#define VALID_WITH(extra) REQ_LINE H_HOST H_UPG H_CONN H_KEY H_VER extra CRLF
#define VALID VALID_WITH("")

#endif
