/*
 * LD_PRELOAD shim for benchmarks against the dev Kafka cluster: sets `fetch.wait.max.ms` of every
 * librdkafka consumer created in the process to $FLUXGATE_BENCH_FETCH_WAIT_MS.
 *
 * Why: librdkafka's mock cluster (the dev cluster) answers a Fetch that finds no new data only
 * after the full MaxWait (default 500 ms), even if records arrive meanwhile; a real broker answers
 * as soon as data arrives. Without the shim every consumer of a live stream waits up to 500 ms per
 * fetch, which measures the mock, not the consumer. `fluxgate demo` sets the same property (10 ms)
 * for its in-process consumers; the stage commands have no flag for it.
 *
 *   gcc -O2 -shared -fPIC -o fetchwait.so fetchwait.c -ldl
 *   LD_PRELOAD=./fetchwait.so FLUXGATE_BENCH_FETCH_WAIT_MS=10 fluxgate hub ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <librdkafka/rdkafka.h>

typedef rd_kafka_t *(*rd_kafka_new_fn)(rd_kafka_type_t, rd_kafka_conf_t *, char *, size_t);

rd_kafka_t *rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size) {
    static rd_kafka_new_fn real;
    if (!real) real = (rd_kafka_new_fn)dlsym(RTLD_NEXT, "rd_kafka_new");
    const char *wait = getenv("FLUXGATE_BENCH_FETCH_WAIT_MS");
    if (type == RD_KAFKA_CONSUMER && conf && wait && *wait) {
        char err[256];
        if (rd_kafka_conf_set(conf, "fetch.wait.max.ms", wait, err, sizeof err) != RD_KAFKA_CONF_OK)
            fprintf(stderr, "fetchwait shim: %s\n", err);
    }
    return real(type, conf, errstr, errstr_size);
}
