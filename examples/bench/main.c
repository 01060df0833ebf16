/* wsg-bench: the core micro-benchmark and a WebSocket load generator, so
 * that every performance figure can be re-measured with one command.
 * Figures, not assertions. */
#include <stdio.h>
#include <string.h>

#include <wsguard/version.h>

#include "bench.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: wsg-bench micro [--sizes 16,64,...,1048576] [--seconds S]\n"
        "       wsg-bench load [--url ws://127.0.0.1:9001/] [--connections N]\n"
        "                      [--depth D] [--size BYTES] [--binary|--text]\n"
        "                      [--duration SECONDS]\n"
        "\n"
        "micro  core receive path (parse + unmask + UTF-8 validation) of a\n"
        "       server-role wsg_conn over prebuilt masked frames, in GB/s of\n"
        "       payload with the memcpy that refills the buffer measured\n"
        "       separately and subtracted; plus the send path.\n"
        "load   N client connections to an echo server, D messages in flight\n"
        "       on each, every echo checked byte for byte; prints messages/s,\n"
        "       MB/s of payload and latency percentiles. Exit status 1 if an\n"
        "       echo differed or a connection failed during the run.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "micro") == 0)
        return bench_micro(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "load") == 0)
        return bench_load(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("wsg-bench %s\n", WSG_VERSION_STRING);
        return 0;
    }
    usage(stderr);
    return 2;
}
