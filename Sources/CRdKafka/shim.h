// librdkafka's public API, then its mock cluster API (which needs rdkafka.h first).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
