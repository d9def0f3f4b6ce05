/*
 * librdkafka alone, no Swift: how much CPU a producer and the in-process mock cluster need for
 * N 200-byte records, by partitioning mode. Used to explain the producer figures in
 * docs/kafka.md ("Why the producer looked slower before").
 *
 *   gcc -O2 -o /tmp/librdkafka_produce Benchmarks/kafka/librdkafka_produce.c -lrdkafka
 *   /tmp/librdkafka_produce MODE RECORDS
 *     MODE 0: keyless, RD_KAFKA_PARTITION_UA (sticky partitioner, like kcat -P)
 *     MODE 1: explicit round-robin over the 64 partitions
 *     MODE 2: keyless with sticky.partitioning.linger.ms=0
 *     MODE 3: keyed, 1000 distinct keys (like kcat -K)
 *
 * Idempotent, acks=all, linger.ms=5 (as Fluxgate's producer); records copied
 * (RD_KAFKA_MSG_F_COPY) and polled once per record, as kcat does.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static long delivered = 0;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk; (void)opaque;
    if (!message->err) delivered++;
}

static double wall_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, name, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s\n", name, error);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODE(0-3) RECORDS\n", argv[0]);
        return 2;
    }
    const int mode = atoi(argv[1]);
    const long count = atol(argv[2]);
    const int partitions = 64;
    char error[512];

    rd_kafka_t *mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), error, sizeof error);
    rd_kafka_mock_cluster_t *cluster = mock_owner ? rd_kafka_mock_cluster_new(mock_owner, 1) : NULL;
    if (!cluster) {
        fprintf(stderr, "mock cluster: %s\n", error);
        return 1;
    }
    rd_kafka_mock_topic_create(cluster, "t", partitions, 1);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster));
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    set(conf, "linger.ms", "5");
    if (mode == 2) set(conf, "sticky.partitioning.linger.ms", "0");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer) {
        fprintf(stderr, "producer: %s\n", error);
        return 1;
    }
    rd_kafka_topic_t *topic = rd_kafka_topic_new(producer, "t", NULL);

    char value[200];
    memset(value, 'x', sizeof value);
    const double wall0 = wall_seconds(), cpu0 = cpu_seconds();
    for (long i = 0; i < count;) {
        const int partition = mode == 1 ? (int)(i % partitions) : RD_KAFKA_PARTITION_UA;
        char key[16];
        const int key_length = mode == 3 ? snprintf(key, sizeof key, "device-%04ld", i % 1000) : 0;
        if (rd_kafka_produce(topic, partition, RD_KAFKA_MSG_F_COPY, value, sizeof value,
                             key_length ? key : NULL, key_length, NULL) == -1) {
            rd_kafka_poll(producer, 10); /* queue full: serve delivery reports, then retry */
            continue;
        }
        i++;
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 60000);
    const double wall = wall_seconds() - wall0;
    printf("mode %d: %.3f s wall, %.3f s cpu, %ld delivered, %.0f rec/s\n", mode, wall,
           cpu_seconds() - cpu0, delivered, count / wall);

    rd_kafka_topic_destroy(topic);
    rd_kafka_destroy(producer);
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(mock_owner);
    return delivered == count ? 0 : 1;
}
